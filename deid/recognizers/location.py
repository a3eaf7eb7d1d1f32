"""Towns and cities of the five countries from a gazetteer, including Finnish and Estonian case forms
(``Tampereella``, ``Oulussa``, ``Tartus``). Country names are not PHI and stay.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.labels import Label
from deid.lexicon import (
    ESTONIAN_CASE_ENDINGS,
    FINNISH_CASE_ENDINGS,
    FINNISH_CITY_FORMS,
    HOSPITAL_WORDS,
    cities,
)
from deid.recognizers._base import make_result
from deid.recognizers._tokens import adjacent, tokens


@cache
def place_forms() -> dict[str, str]:
    """Every written form of every known town, mapped to its base form."""
    forms: dict[str, str] = {}
    for city in cities():
        forms[city] = city
        for ending in (*FINNISH_CASE_ENDINGS, *ESTONIAN_CASE_ENDINGS):
            forms.setdefault(city + ending, city)
    for city, inflected in FINNISH_CITY_FORMS.items():
        for form in inflected:
            forms[form] = city
    return forms


class GazetteerLocationRecognizer(LocalRecognizer):
    """Known towns, in base or inflected form, one or two words (``Mo i Rana`` is matched by its first word)."""

    ENTITY: ClassVar[Label] = Label.LOCATION

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[str(self.ENTITY)],
            supported_language=supported_language,
            name=f"GazetteerLocationRecognizer_{supported_language}",
        )

    def load(self) -> None:
        """Build the form table once per process."""
        place_forms()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Every known town that is not the first word of a hospital's name."""
        forms = place_forms()
        toks = tokens(text)
        out: list[RecognizerResult] = []
        for k, tok in enumerate(toks):
            word = tok.bare
            if not tok.is_cap or word not in forms:
                continue
            nxt = toks[k + 1] if k + 1 < len(toks) else None
            if nxt is not None and adjacent(text, tok, nxt) and any(h in nxt.text.lower() for h in HOSPITAL_WORDS):
                continue
            out.append(make_result(self, str(self.ENTITY), tok.start, tok.start + len(word), 0.72))
        return out
