"""Estonian isikukood (Rahvastikuregistri seadus § 5; standard EVS 585:2007).

11 digits ``GYYMMDDSSSC``: ``G`` gives sex and century (1/2 1800s, 3/4 1900s, 5/6 2000s, 7/8 2100s), then the
birth date, a serial, and a check digit: weights 1..9,1 mod 11; if that gives 10, weights 3..9,1,2,3 mod 11;
if that gives 10 too, the digit is 0.
"""

from __future__ import annotations

from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, is_valid_date

_W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 1)
_W2 = (3, 4, 5, 6, 7, 8, 9, 1, 2, 3)


def check_digit(first10: str) -> int:
    """The check digit for the first ten digits."""
    digits = [int(c) for c in first10]
    rest = sum(w * d for w, d in zip(_W1, digits, strict=True)) % 11
    if rest == 10:
        rest = sum(w * d for w, d in zip(_W2, digits, strict=True)) % 11
    return 0 if rest == 10 else rest


def is_valid(number: str) -> bool:
    """Whether ``number`` is a valid isikukood (date, century digit, check digit)."""
    if len(number) != 11 or not number.isdigit() or not ("1" <= number[0] <= "8"):
        return False
    year = 1800 + 100 * ((int(number[0]) - 1) // 2) + int(number[1:3])
    if not is_valid_date(year, int(number[3:5]), int(number[5:7])):
        return False
    return check_digit(number[:10]) == int(number[10])


class EeIsikukoodRecognizer(RuleRecognizer):
    """Estonian personal identification code, check digit verified."""

    ENTITY: ClassVar[Label] = Label.NATIONAL_ID
    PRESIDIO_ENTITY: ClassVar[str | None] = "EE_ISIKUKOOD"
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("ee_isikukood", r"(?<![\d\-+/.])(?P<phi>[1-8]\d{10})(?![\d\-/]|\.\d)", 0.5, country="ee"),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("isikukood", "ik")

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Valid date and check digit, or no match."""
        return 1.0 if is_valid(text[start:end]) else None
