"""The de-identifier: Presidio's ``AnalyzerEngine`` built offline with our registry and NLP engine, our conflict
resolution, and our operators with an offset map.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc
from spacy.vocab import Vocab

from deid.labels import LANGUAGES
from deid.mentions import repeated_names
from deid.nlp import OfflineSpacyNlpEngine
from deid.offsets import OffsetMap, Replacement
from deid.operators import Operator, Replacer
from deid.public import without_public_names
from deid.ranges import widen_date_ranges
from deid.recognizers import MODEL_RECOGNIZERS, build_registry
from deid.relabel import (
    branches_before_towns,
    organizations_by_form,
    places_after_organizations,
    towns_after_prepositions,
)
from deid.resolve import adopt_organizations, adopt_places, fill_gaps, resolve
from deid.spans import PhiSpan
from deid.tagger import SpanTagger, default_tagger

log = logging.getLogger("fednode.deid.engine")


class _NoContextEnhancer(ContextAwareEnhancer):
    """Our recognizers put their cue words in their patterns; Presidio's lemma enhancer would only add cost."""

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=0.0,
            min_score_with_context_similarity=0.0,
            context_prefix_count=0,
            context_suffix_count=0,
        )

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):  # type: ignore[no-untyped-def]  # presidio's signature
        return raw_results


class _Analyzer(AnalyzerEngine):
    """Presidio's analyzer with its context step done in one pass: the stock one filters every result list once
    per recognizer (quadratic) only to hand each recognizer its own results, which ours return unchanged."""

    def _enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):  # type: ignore[no-untyped-def]  # presidio's signature
        own: dict[str, list[RecognizerResult]] = {}
        for result in raw_results:
            own.setdefault(result.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY], []).append(result)
        results: list[RecognizerResult] = []
        for recognizer in recognizers:
            mine = own.get(recognizer.id, [])
            if type(recognizer).enhance_using_context is not EntityRecognizer.enhance_using_context:
                others = [
                    r
                    for r in raw_results
                    if r.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY] != recognizer.id
                ]
                mine = recognizer.enhance_using_context(
                    text=text,
                    raw_recognizer_results=mine,
                    other_raw_recognizer_results=others,
                    nlp_artifacts=nlp_artifacts,
                    context=context,
                )
            results.extend(mine)
        return self.context_aware_enhancer.enhance_using_context(
            text=text, raw_results=results, nlp_artifacts=nlp_artifacts, recognizers=recognizers, context=context
        )


def build_analyzer(languages: Sequence[str] = LANGUAGES, *, english_ner: bool = False) -> AnalyzerEngine:
    """Presidio's analyzer with an explicit offline NLP engine and registry (never the downloading default).

    ``english_ner`` adds spaCy's English NER (:class:`deid.recognizers.SpacyNerRecognizer`). It is off by default:
    on the hand-written English notes the learned tagger and the rules find what it finds but a few addresses'
    parts, it labels more words wrongly (``Referrer``, ``Fatigue``), and it costs a fifth of the run time."""
    # Presidio logs every analyze() call at INFO ("Fetching all recognizers ..."): keep our logs readable
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    nlp_engine = OfflineSpacyNlpEngine(languages, english_model=english_ner)
    nlp_engine.load()
    return _Analyzer(
        registry=build_registry(languages, model_recognizers=english_ner),
        nlp_engine=nlp_engine,
        supported_languages=list(languages),
        context_aware_enhancer=_NoContextEnhancer(),
    )


CHUNK_CHARS = 100_000
"""Largest piece of a note analysed at once (spaCy refuses texts over 1,000,000 characters)."""


def _chunks(text: str, size: int) -> list[tuple[int, str]]:
    """``(offset, piece)`` pairs covering ``text``, each cut after a newline (else a space) when possible."""
    out: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind("\n", start + size // 2, end)
            if cut < 0:
                cut = text.rfind(" ", start + size // 2, end)
            end = cut + 1 if cut >= 0 else end
        out.append((start, text[start:end]))
        start = end
    return out


@dataclass(frozen=True)
class DeidResult:
    """A de-identified text, the PHI found in the original, and where each replacement went."""

    text: str
    phi: tuple[PhiSpan, ...]
    offsets: OffsetMap


class Deidentifier:
    """Detects PHI and replaces it. Build once per process; ``detect`` and ``deidentify`` are re-entrant."""

    def __init__(
        self,
        *,
        operator: Operator = "surrogate",
        key: bytes | None = None,
        analyzer: AnalyzerEngine | None = None,
        languages: Sequence[str] = LANGUAGES,
        tagger: SpanTagger | bool = True,
        english_ner: bool = False,
    ) -> None:
        """``tagger``: the learned tagger whose spans fill the rules' gaps (``True``: the one shipped in
        ``deid/data/``; ``False``: the rules alone). ``english_ner``: add spaCy's English NER (see
        :func:`build_analyzer`; ignored when ``analyzer`` is given)."""
        self.operator = operator
        self.tagger = default_tagger() if tagger is True else tagger or None
        self.ephemeral_key = key is None
        self.key = key if key is not None else secrets.token_bytes(32)
        self.analyzer = analyzer if analyzer is not None else build_analyzer(languages, english_ner=english_ner)
        model_classes = tuple(c for group in MODEL_RECOGNIZERS.values() for c in group if isinstance(c, type))
        self._model_languages = frozenset(
            r.supported_language for r in self.analyzer.registry.recognizers if isinstance(r, model_classes)
        )
        """Languages whose registry reads a trained pipeline's entities: only they get spaCy's analysis."""
        self._empty_doc = Doc(Vocab(), words=[])

    def detect(self, text: str, lang: str) -> list[PhiSpan]:
        """Non-overlapping PHI spans in ``text`` (``lang`` must be one of :data:`deid.labels.LANGUAGES`): the
        rules' spans, then the learned tagger's where the rules found nothing.

        Long texts are analysed in pieces of at most :data:`CHUNK_CHARS`, cut at line breaks (or spaces), so a
        10 MB note stays within spaCy's length limit and memory stays flat.
        """
        spans: list[PhiSpan] = []
        for offset, piece in _chunks(text, CHUNK_CHARS):
            artifacts = None if lang in self._model_languages else self._no_model_artifacts(lang)
            found = resolve(self.analyzer.analyze(text=piece, language=lang, nlp_artifacts=artifacts), lang, text=piece)
            if self.tagger is not None:
                tagged = self.tagger.spans(piece, lang)
                found = fill_gaps(adopt_places(adopt_organizations(found, tagged, piece), tagged), tagged, piece)
            found = organizations_by_form(found, piece, lang)
            found = towns_after_prepositions(branches_before_towns(found, piece), piece)
            found = places_after_organizations(found, piece)
            found = widen_date_ranges(without_public_names(repeated_names(found, piece), piece), piece)
            spans.extend(PhiSpan(s.start + offset, s.end + offset, s.label, s.score, s.country) for s in found)
        return spans

    def _no_model_artifacts(self, lang: str) -> NlpArtifacts:
        """Empty NLP artifacts for a language without a trained model: no recognizer of ours reads spaCy tokens
        there, so the blank pipeline's tokenizer would be wasted work."""
        return NlpArtifacts(
            entities=[],
            tokens=self._empty_doc,
            tokens_indices=[],
            lemmas=[],
            nlp_engine=self.analyzer.nlp_engine,
            language=lang,
        )

    def date_shift_days(self, patient: str) -> int:
        """The number of days every date of ``patient`` moves (in the text and the note's own date): keyed with
        the site secret, never zero, the same for all of the patient's notes."""
        return Replacer("surrogate", self.key, patient, "en").shift_days

    def deidentify(self, text: str, lang: str, patient: str, operator: Operator | None = None) -> DeidResult:
        """``text`` with every PHI span replaced, and the offset map of the replacements."""
        phi = self.detect(text, lang)
        replacer = Replacer(operator or self.operator, self.key, patient, lang)
        parts: list[str] = []
        replacements: list[Replacement] = []
        cursor = 0
        length = 0
        for span in phi:
            kept = text[cursor : span.start]
            parts.append(kept)
            length += len(kept)
            new = replacer.replace(span, text[span.start : span.end])
            parts.append(new)
            replacements.append(Replacement(span.start, span.end, length, length + len(new), span.label))
            length += len(new)
            cursor = span.end
        parts.append(text[cursor:])
        return DeidResult("".join(parts), tuple(phi), OffsetMap(replacements))
