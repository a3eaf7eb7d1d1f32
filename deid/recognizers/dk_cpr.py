"""Danish CPR number (CPR-loven § 3; CPR-kontoret's "Personnummeret i CPR").

``DDMMYY-SSSS``: birth date and a serial number whose first digit with the year gives the century. The mod-11
rule was dropped in 2007 (numbers without it are issued), so only the date is validated. Without the hyphen a
10-digit run counts next to a CPR cue word, or, in a Danish note (where clinicians often drop the hyphen and
phone numbers have 8 digits), alone with a lower score than a cued reference number.
"""

from __future__ import annotations

from typing import Any, ClassVar

import regex

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, is_valid_date
from deid.recognizers.phone import after_reference_cue


def century(year2: int, seventh: int) -> int:
    """The birth century from the two-digit year and the seventh digit (CPR-kontoret's table)."""
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if year2 <= 36 else 1900
    return 2000 if year2 <= 57 else 1800


def is_valid(number: str) -> bool:
    """Whether ``number`` has a valid CPR date part (day, month, and the century the serial implies)."""
    digits = "".join(c for c in number if c.isdigit())
    if len(digits) != 10:
        return False
    day, month, year2 = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    return is_valid_date(century(year2, int(digits[6])) + year2, month, day)


_CPR_CUE = regex.compile(r"(?i:cpr|dansk|danish|tanskalai)")


class DkCprRecognizer(RuleRecognizer):
    """Danish CPR number, date-validated (the mod-11 rule is not required)."""

    ENTITY: ClassVar[Label] = Label.NATIONAL_ID
    PRESIDIO_ENTITY: ClassVar[str | None] = "DK_CPR"
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("dk_cpr_dash", r"(?<![\d\-+/.])(?P<phi>\d{6}-\d{4})(?![\d\-/]|\.\d)", 0.6, country="dk"),
        Rule(
            "dk_cpr_cued",
            r"(?i:cpr|cpr-nr|cpr-nummer|personnummer|national id|personal id|id)\.?:?[ ]*(?:nr\.?[ ]*)?"
            r"(?P<phi>\d{10})(?!\d)",
            0.9,
            country="dk",
        ),
        Rule("dk_cpr_plain", r"\b(?<![\-+/.,])(?P<phi>\d{10})(?![\w\-/]|[.,]\d)", 0.55, country="dk"),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("cpr", "cpr-nr", "cpr-nummer", "personnummer")

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """The rule's score when the date part is valid (a bare 10-digit run only in a Danish note)."""
        if rule.name == "dk_cpr_plain" and (self.supported_language != "da" or after_reference_cue(text, start)):
            return None
        if rule.name == "dk_cpr_dash" and self.supported_language == "fi" and not _CPR_CUE.search(text[:start][-40:]):
            return None  # DDMMYY-NNNN in a Finnish note is a henkilötunnus; one whose check fails is no CPR
        return rule.score if is_valid(text[start:end]) else None
