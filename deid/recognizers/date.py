"""Dates in every format the five countries and English write (see :mod:`deid.dates`); a year alone stays."""

from __future__ import annotations

from typing import Any, ClassVar

from presidio_analyzer import LocalRecognizer, RecognizerResult

from deid.dates import find_dates
from deid.labels import Label
from deid.recognizers._base import COUNTRY_KEY


class NordicDateRecognizer(LocalRecognizer):  # type: ignore[misc]  # presidio is untyped
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
        finds = list(find_dates(text))
        # keep only maximal finds: "mars 2024" inside "12. mars 2024" is the same date
        finds = [f for f in finds if not any(o is not f and o.start <= f.start and f.end <= o.end
                                             and (o.end - o.start) > (f.end - f.start) for o in finds)]
        seen: set[tuple[int, int]] = set()
        results = []
        for found in finds:
            if (found.start, found.end) in seen:
                continue
            seen.add((found.start, found.end))
            score = 0.85 if found.year is not None and found.day is not None else 0.6
            results.append(
                RecognizerResult(
                    entity_type=str(self.ENTITY),
                    start=found.start,
                    end=found.end,
                    score=score,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        COUNTRY_KEY: "",
                    },
                )
            )
        return results
