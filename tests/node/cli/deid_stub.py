"""A de-identifier built without Presidio, for CLI tests that must not wait for the models to load."""

from __future__ import annotations

from typing import Any

from deid.engine import DeidResult
from deid.labels import Label
from deid.offsets import OffsetMap, Replacement
from deid.spans import PhiSpan

NAME = "Kari Hansen"


class StubDeidentifier:
    """Tags every :data:`NAME` as PERSON; built without Presidio."""

    def __init__(self, **_: Any) -> None:
        pass

    def detect(self, text: str, lang: str) -> list[PhiSpan]:
        at = text.find(NAME)
        return [] if at < 0 else [PhiSpan(at, at + len(NAME), Label.PERSON)]

    def date_shift_days(self, patient: str) -> int:
        return 7

    def deidentify(self, text: str, lang: str, patient: str, operator: Any = None) -> DeidResult:
        phi = self.detect(text, lang)
        if not phi:
            return DeidResult(text, (), OffsetMap([]))
        s = phi[0]
        new = text[: s.start] + "<PERSON>" + text[s.end :]
        return DeidResult(new, tuple(phi), OffsetMap([Replacement(s.start, s.end, s.start, s.start + 8, s.label)]))
