"""Towns and cities of the five countries from a gazetteer, including Finnish and Estonian case forms
(``Tampereella``, ``Oulussa``, ``Tartus``). Country names are not PHI and stay.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.labels import Label
from deid.lexicon import (
    COUNTRIES,
    ESTONIAN_CASE_ENDINGS,
    FINNISH_CASE_ENDINGS,
    FINNISH_CITY_FORMS,
    HOSPITAL_WORDS,
    NOT_NAMES,
    PLACE_CUES,
    cities,
    stop_words,
)
from deid.recognizers._base import make_result
from deid.recognizers._tokens import adjacent, sentence_initial, tokens


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


_CASE_LANGUAGES = frozenset({"fi", "et"})
_PLACE = r"(?P<phi>\p{Lu}[\p{L}\-]+(?:[ ]\p{Lu}[\p{L}\-]+)?)"
_CUED = regex.compile(rf"(?<![\w])(?i:{'|'.join(f'(?:{c})' for c in PLACE_CUES.values())})[ ]{_PLACE}")
_HOSPITAL_NEXT = regex.compile("|".join(regex.escape(h) for h in HOSPITAL_WORDS), regex.IGNORECASE)


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
        inflected = self.supported_language in _CASE_LANGUAGES
        toks = tokens(text)
        out: list[RecognizerResult] = []
        cued: set[int] = set()
        for m in _CUED.finditer(text, timeout=5.0):
            words = m.group("phi").split(" ")
            if words[0] in NOT_NAMES or words[0] in stop_words() or words[0] in COUNTRIES:
                continue
            if len(words) > 1 and (
                words[1] in NOT_NAMES or words[1] in stop_words() or _HOSPITAL_NEXT.search(words[1])
            ):
                words = words[:1]
            if _HOSPITAL_NEXT.search(words[0]) or _HOSPITAL_NEXT.search(text[m.end("phi") : m.end("phi") + 20]):
                continue
            start = m.start("phi")
            cued.add(start)
            out.append(make_result(self, str(self.ENTITY), start, start + len(" ".join(words)), 0.75))
        for k, tok in enumerate(toks):
            word = tok.bare
            if not tok.is_cap or word not in forms or tok.start in cued:
                continue
            if not inflected and forms[word] != word and sentence_initial(text, tok):
                continue  # "Given" (Give + -n) starting an English sentence: case forms belong to fi/et notes
            nxt = toks[k + 1] if k + 1 < len(toks) else None
            if nxt is not None and adjacent(text, tok, nxt) and any(h in nxt.text.lower() for h in HOSPITAL_WORDS):
                continue
            out.append(make_result(self, str(self.ENTITY), tok.start, tok.start + len(word), 0.72))
        return out
