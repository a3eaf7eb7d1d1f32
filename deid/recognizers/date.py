"""Dates in every format the five countries and English write (see :mod:`deid.dates`); a year alone stays."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.dates import CLOCK_AFTER, EN_WEEKDAYS, SCANDINAVIAN_WEEKDAYS, find_dates
from deid.labels import Label
from deid.recognizers._base import make_result
from deid.wordlists import phrase_trie

_TAKEN_BEFORE = regex.compile(
    r"(?<![\w])(?i:taget|tagen|tagna|tatt|tekne|teken|otettu|otetaan|võetud|võeti|taken|drawn|collected)"
    r"(?:[ ](?:den|d\.|on))?[ ]*:?[ ]*$"
)
"""A sample's verb right before a compact date (``Prov taget 240610``, ``näyte otettu 240311``, ``taken 250112``):
the day it was taken, not its number."""


_BIRTH_COMPACT = regex.compile(
    r"(?<![\w.])(?i:dob|d\.o\.b\.?|date of birth|born|f\.|født|fødd|född|f[öø]dd den|syntynyt|synt\.|s\.|sünd|sündinud"
    r"|birth)[ ]*:?[ ]*(?P<d>0[1-9]|[12]\d|3[01])(?P<m>0[1-9]|1[0-2])(?P<y>\d\d)(?![\d\-+A])"
)
"""A birth date written day-month-year without separators after its cue (``DOB 300847``, ``f. 120379``,
``s. 030233``): the day first, as the person's number begins, not the compact sample date's year first; a
number that goes on into a personal number (``120379-1234``) is that number's."""


_WEEKDAY_DAY = regex.compile(
    rf"(?<![\w])(?:(?i:{phrase_trie(EN_WEEKDAYS)})\.?[ ](?:the[ ])?(?P<d>0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)"
    rf"|(?i:{phrase_trie(SCANDINAVIAN_WEEKDAYS)})[ ](?:den|d\.)[ ](?P<d>0?[1-9]|[12]\d|3[01])\.)"
    r"(?![\w]|[.,]\d)"
)
"""A day of the month after its weekday, with no month (``Next review Mon 16th``, ``on Sunday 14th``, ``fredag d.
12.``): the day is a date; its surrogate is ``[DATE]``, as no month is known to shift it by."""


class NordicDateRecognizer(LocalRecognizer):
    """Calendar-valid dates: ISO, dotted, slashed, Danish ``12/3-24``, and month names in six languages."""

    ENTITY: ClassVar[Label] = Label.DATE

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[str(self.ENTITY)],
            supported_language=supported_language,
            name=f"NordicDateRecognizer_{supported_language}",
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Every date found; year-less and month-year forms score lower than full dates."""
        # keep only maximal finds ("mars 2024" inside "12. mars 2024" is the same date): one sweep in start order
        seen_end = -1
        results = []
        for found in sorted(find_dates(text), key=lambda f: (f.start, -f.end)):
            if found.end <= seen_end:
                continue
            seen_end = found.end
            score = 0.85 if found.year is not None and found.day is not None else 0.6
            if found.fmt in ("compact", "compact_dmy"):
                score = 0.5  # six digits could be a number of another kind: a cued ID outranks it
                if CLOCK_AFTER.match(text, found.end) or _TAKEN_BEFORE.search(
                    text, max(0, found.start - 20), found.start
                ):
                    score = 0.85  # "Prøve taget 250207 kl. 08.12": a day and its hour, not a sample's number
            results.append(make_result(self, str(self.ENTITY), found.start, found.end, score))
        for found in _WEEKDAY_DAY.finditer(text):
            results.append(make_result(self, str(self.ENTITY), found.start("d"), found.end(), 0.6))
        for found in _BIRTH_COMPACT.finditer(text):
            if _calendar_day(int(found["d"]), int(found["m"]), int(found["y"])):
                results.append(make_result(self, str(self.ENTITY), found.start("d"), found.end("y"), 0.9))
        return results


def _calendar_day(day: int, month: int, year: int) -> bool:
    """Whether day, month and two-digit year make a date in either century (``290200`` does, ``310447`` not)."""
    for century in (1900, 2000):
        try:
            dt.date(century + year, month, day)
        except ValueError:
            continue
        return True
    return False
