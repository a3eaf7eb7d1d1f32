"""Norwegian fødselsnummer and D-number (Folkeregisterloven § 2-2; Skatteetaten's check-digit rules).

11 digits ``DDMMYYIIIKK``: birth date, a three-digit individual number (its range gives the century) and two
mod-11 check digits. A D-number (for people not resident in Norway) adds 4 to the first digit (day + 40); an
H-number (health-service temporary number) adds 4 to the third digit (month + 40).
"""

from __future__ import annotations

from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, is_valid_date

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def check_digits(first9: str) -> str | None:
    """The two check digits for the first nine digits, or None when no valid number has them."""
    digits = [int(c) for c in first9]
    k1 = (11 - sum(w * d for w, d in zip(_W1, digits, strict=True)) % 11) % 11
    if k1 == 10:
        return None
    k2 = (11 - sum(w * d for w, d in zip(_W2, [*digits, k1], strict=True)) % 11) % 11
    if k2 == 10:
        return None
    return f"{k1}{k2}"


def is_valid(number: str) -> bool:
    """Whether ``number`` (digits, optionally with one space) is a valid fødselsnummer or D-/H-number."""
    digits = "".join(c for c in number if c.isdigit())
    if len(digits) != 11:
        return False
    day, month, year2 = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if day > 40:
        day -= 40  # D-number
    if month > 40:
        month -= 40  # H-number
    if not is_valid_date(2000 if year2 % 4 == 0 else 2001, month, day):
        return False
    return check_digits(digits[:9]) == digits[9:]


class NoFodselsnummerRecognizer(RuleRecognizer):
    """Norwegian fødselsnummer / D-number, both mod-11 check digits verified."""

    ENTITY: ClassVar[Label] = Label.NATIONAL_ID
    PRESIDIO_ENTITY: ClassVar[str | None] = "NO_FODSELSNUMMER"
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("no_fnr", r"(?<![\d\-+/.])(?P<phi>\d{6}[ ]?\d{5})(?![\d\-/]|\.\d)", 0.5, country="no"),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("fødselsnummer", "fnr", "f.nr", "personnummer", "d-nummer")

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Valid date and both check digits, or no match."""
        return 1.0 if is_valid(text[start:end]) else None
