"""How detected PHI is replaced: tags, consistent surrogates (the default), redaction, or keyed HMAC pseudonyms.

Surrogates and HMAC pseudonyms are keyed with the site secret. Surrogates are also keyed with the patient, so
the same name becomes the same surrogate in every note of that patient, and every date of a patient moves by
the same number of days (intervals survive).
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, field
from functools import cached_property

from deid.checks import OPERATORS, Operator
from deid.labels import Label
from deid.spans import PhiSpan
from deid.surrogates import fixed_surrogate, surrogate

MAX_SHIFT_DAYS = 365
"""Dates move by 1 to 365 days, forward or back, one fixed offset per patient."""


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Replacer:
    """Turns one PHI span into its replacement text, for one patient."""

    operator: Operator
    key: bytes
    patient: str
    lang: str
    _done: dict[tuple[str, str, str], str] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Replacements already made, by label, country and original: one keyed hash per distinct value of a note."""

    def _digest(self, *parts: str) -> bytes:
        return hmac.new(self.key, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).digest()

    @cached_property
    def shift_days(self) -> int:
        """This patient's date offset: never zero, the same for all of the patient's notes."""
        value = int.from_bytes(self._digest("date-shift", self.patient)[:8], "big")
        days = value % MAX_SHIFT_DAYS + 1
        return days if value & (1 << 63) else -days

    def replace(self, span: PhiSpan, original: str) -> str:
        """The replacement for ``original`` (the text of ``span``)."""
        if self.operator == "tag":
            return f"<{span.label}>"
        if self.operator == "redact":
            return ""
        key = (str(span.label), span.country, original)
        done = self._done.get(key)
        if done is None:
            done = self._done[key] = self._new(span, original)
        return done

    def _new(self, span: PhiSpan, original: str) -> str:
        if self.operator == "hmac":
            token = self._digest("hmac", str(span.label), _normalise(original)).hex()[:16]
            return f"<{span.label}:{token}>"
        fixed = fixed_surrogate(span.label, original, self.shift_days)
        if fixed is not None:
            return fixed  # a shifted date or an age: no keyed seed needed
        seed = int.from_bytes(self._digest("surrogate", self.patient, str(span.label), _normalise(original))[:8], "big")
        return surrogate(random.Random(seed), span.label, original, self.lang, span.country, self.shift_days)  # noqa: S311  # not for security: a seeded, reproducible choice


def label_counts(spans: list[PhiSpan]) -> dict[str, int]:
    """How many spans of each label (for reports: counts only, never text)."""
    out: dict[str, int] = {}
    for s in spans:
        out[str(s.label)] = out.get(str(s.label), 0) + 1
    return dict(sorted(out.items()))


__all__ = ["OPERATORS", "Label", "Operator", "Replacer", "label_counts"]
