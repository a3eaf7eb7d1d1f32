"""The offset map: every replacement made in a note, so spans on the original text can be moved onto the
de-identified text. A span that overlaps replaced PHI cannot keep its text and is reported, not moved.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from deid.labels import Label


@dataclass(frozen=True)
class Replacement:
    """``original[start:end]`` became ``new[new_start:new_end]``."""

    start: int
    end: int
    new_start: int
    new_end: int
    label: Label


class OffsetMap:
    """Replacements in text order, with O(log n) position mapping."""

    def __init__(self, replacements: Sequence[Replacement]) -> None:
        self.replacements = tuple(replacements)
        self._ends = [r.end for r in self.replacements]
        self._starts = [r.start for r in self.replacements]
        shift = 0
        self._shift_after: list[int] = []
        for r in self.replacements:
            shift += (r.new_end - r.new_start) - (r.end - r.start)
            self._shift_after.append(shift)

    def __len__(self) -> int:
        return len(self.replacements)

    def _shift_at(self, pos: int) -> int:
        """Total length change of the replacements that end at or before ``pos``."""
        i = bisect.bisect_right(self._ends, pos)
        return self._shift_after[i - 1] if i else 0

    def overlaps_phi(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` shares a character with any replaced span."""
        i = bisect.bisect_right(self._ends, start)
        return i < len(self.replacements) and self.replacements[i].start < end

    def map_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Where ``[start, end)`` of the original lies in the new text; None when it overlaps replaced PHI."""
        if self.overlaps_phi(start, end):
            return None
        return start + self._shift_at(start), end + self._shift_at(end)

    def to_json(self) -> list[dict[str, object]]:
        """The replacements as plain data (positions and labels only, never text)."""
        return [
            {"start": r.start, "end": r.end, "new_start": r.new_start, "new_end": r.new_end, "label": str(r.label)}
            for r in self.replacements
        ]
