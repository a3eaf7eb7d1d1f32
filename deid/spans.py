"""The value types of de-identification: a detected PHI span and one replacement."""

from __future__ import annotations

from dataclasses import dataclass

from deid.labels import Label


@dataclass(frozen=True, order=True)
class PhiSpan:
    """PHI found in a text: ``text[start:end]`` (end exclusive), its label, score, and identifier country."""

    start: int
    end: int
    label: Label
    score: float = 1.0
    country: str = ""

    def to_json(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "label": str(self.label)}
