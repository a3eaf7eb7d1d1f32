"""Swedish personnummer and samordningsnummer (Folkbokföringslagen 18 §; Skatteverket SKV 704).

``YYMMDD-NNNC`` (``+`` instead of ``-`` once the person is 100), or 12 digits ``YYYYMMDDNNNC``, with or without
the separator. ``C`` is a Luhn digit over the 10-digit form. A samordningsnummer adds 60 to the day.
Presidio's ``SePersonnummerRecognizer`` does the same but also matches Danish and Norwegian numbers; here the
engine resolves that by validation and the note's language.
"""

from __future__ import annotations

from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, is_valid_date


def luhn_digit(digits9: str) -> int:
    """The Luhn check digit for nine digits."""
    total = 0
    for i, c in enumerate(digits9):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def is_valid(number: str, *, coordination: bool = True) -> bool:
    """Whether ``number`` is a valid personnummer or (with ``coordination``) samordningsnummer (10 or 12 digits,
    ``-``/``+``/none)."""
    digits = "".join(c for c in number if c.isdigit())
    if len(digits) == 12:
        century, digits = int(digits[:2]), digits[2:]
        if century not in (18, 19, 20):
            return False
        year = century * 100 + int(digits[:2])
    elif len(digits) == 10:
        year = 2000 + int(digits[:2])
    else:
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    if day > 60 and coordination:
        day -= 60  # samordningsnummer
    if not (is_valid_date(year, month, day) or is_valid_date(year - 100, month, day)):
        return False
    return luhn_digit(digits[:9]) == int(digits[9])


class SePersonnummerRecognizer(RuleRecognizer):
    """Swedish personnummer (10/12 digits, ``-``/``+``/none) and samordningsnummer, Luhn-verified."""

    ENTITY: ClassVar[Label] = Label.NATIONAL_ID
    PRESIDIO_ENTITY: ClassVar[str | None] = "SE_PERSONNUMMER"
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("se_pnr_12", r"(?<![\d\-+/.])(?P<phi>(?:18|19|20)\d{6}[-+]?\d{4})(?![\d\-/]|\.\d)", 0.5, country="se"),
        Rule("se_pnr_10", r"(?<![\d\-+/.])(?P<phi>\d{6}[-+]?\d{4})(?![\d\-/]|\.\d)", 0.5, country="se"),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("personnummer", "pnr", "samordningsnummer", "personnr")

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Valid date and Luhn digit, or no match. A samordningsnummer (day + 60) only in a Swedish or English
        note: in a Danish one, ``321085-3317`` is an impossible CPR number, no Swede's."""
        coordination = self.supported_language in ("sv", "en")
        return 1.0 if is_valid(text[start:end], coordination=coordination) else None
