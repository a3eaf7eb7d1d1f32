"""English names and places from the spaCy ``en_core_web_sm`` model (its PERSON, GPE, LOC and FAC entities),
with the clinical filters a general-domain model needs: no disease eponyms (``Duchenne muscular dystrophy``),
no gene or protein symbols, no countries. spaCy's ORG fires on gene and disease names in biomedical text, so
organisations come from :mod:`deid.recognizers.organization` instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.labels import Label
from deid.lexicon import (
    COUNTRIES,
    DISEASE_HEADS,
    EPONYMS,
    KINSHIP_CUES,
    MEDICAL_SUFFIXES,
    NATIONALITIES,
    NOT_NAMES,
    TITLE_CUES,
    first_names,
    last_names,
)
from deid.recognizers._base import make_result
from deid.recognizers.location import is_country
from deid.recognizers.person import role_not_name
from deid.wordlists import lower_set

_MAP = {"PERSON": Label.PERSON, "GPE": Label.LOCATION, "LOC": Label.LOCATION, "FAC": Label.LOCATION}
_DISEASE = frozenset(DISEASE_HEADS)
_WEEKDAYS = frozenset({"Mon", "Tue", "Tues", "Wed", "Weds", "Thu", "Thur", "Thurs", "Fri", "Sat", "Sun"})
_ROLE_WORDS = frozenset(KINSHIP_CUES) | frozenset(TITLE_CUES) | lower_set("kinship_extra")


def _keep(ent: Any) -> bool:
    words = [t.text for t in ent]
    if any(w in EPONYMS or w.rstrip("s'") in EPONYMS for w in words):
        return False
    if any(any(c.isdigit() for c in w) or (w.isupper() and len(w) > 1) for w in words):
        return False
    if not all(w[:1].isupper() or w in {"-", "'s", "."} for w in words):
        return False
    if ent.text in COUNTRIES or is_country(ent.text) or ent.text in NOT_NAMES or any(w in NATIONALITIES for w in words):
        return False
    if words[0].lower() in _ROLE_WORDS:
        return False  # "Niece's number ...": a kinship or title word read as a place
    if role_not_name(words[-1]) or words[0] in _WEEKDAYS:
        return False  # "Radiology Registrar", "Dialysis Nurse", "Tues 9 Jan"
    if (
        ent.label_ == "PERSON"
        and len(words) == 1
        and ent.start > 0
        and ent.doc[ent.start - 1].text == "in"
        and words[0] not in first_names()
        and words[0] not in last_names()
    ):
        return False  # "a holiday booked in Kraków": no list knows the name, the place recognizer has it
    if len(words) == 1 and (len(words[0]) <= 3 or words[0].lower().endswith(MEDICAL_SUFFIXES)):
        return False  # gene and protein symbols (Rho, Tf, Rac) and disease or organism names
    if any(len(w) == 1 for w in words if w != "-"):
        return False  # "L ." from an author list in a tokenised corpus
    doc = ent.doc
    following = [t.text.lower() for t in doc[ent.end : ent.end + 3]]
    return not any(w in _DISEASE for w in following)


class SpacyNerRecognizer(LocalRecognizer):
    """spaCy's English NER, filtered for clinical text."""

    ENTITY: ClassVar[Label] = Label.PERSON

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[str(Label.PERSON), str(Label.LOCATION)],
            supported_language=supported_language,
            name=f"SpacyNerRecognizer_{supported_language}",
        )

    def load(self) -> None:
        """The model is loaded by the NLP engine."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """The kept entities of the NLP artifacts."""
        if nlp_artifacts is None:
            return []
        out = []
        for ent in nlp_artifacts.entities:
            label = _MAP.get(ent.label_)
            if label is None or not _keep(ent):
                continue
            out.append(make_result(self, str(label), ent.start_char, ent.end_char, 0.7))
        return out
