"""Finnish henkilötunnus (Väestötietojärjestelmälaki 661/2009 § 11; Decree 128/2010 as amended 2022).

``DDMMYYCZZZQ``: birth date, a century sign (``+`` 1800s; ``-`` and since 2023 ``Y X W V U`` 1900s; ``A`` and
since 2023 ``B C D E F`` 2000s), individual number ``ZZZ`` (002-899, 900-999 temporary), and check character
``Q`` = ``"0123456789ABCDEFHJKLMNPRSTUVWXY"[DDMMYYZZZ mod 31]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, is_valid_date

CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURY_OF_SIGN: dict[str, int] = {"+": 1800, **dict.fromkeys("-YXWVU", 1900), **dict.fromkeys("ABCDEF", 2000)}


def check_char(date6: str, individual: str) -> str:
    """The check character for the date part and the individual number."""
    return CHECK_CHARS[int(date6 + individual) % 31]


def is_valid(number: str) -> bool:
    """Whether ``number`` is a valid henkilötunnus (any century sign, including the 2023 letters)."""
    code = number.strip().upper()
    if len(code) != 11 or code[6] not in CENTURY_OF_SIGN:
        return False
    date6, individual, check = code[:6], code[7:10], code[10]
    if not (date6.isdigit() and individual.isdigit()) or int(individual) < 2:
        return False
    year = CENTURY_OF_SIGN[code[6]] + int(date6[4:6])
    if not is_valid_date(year, int(date6[2:4]), int(date6[0:2])):
        return False
    return check_char(date6, individual) == check


class FiHenkilotunnusRecognizer(RuleRecognizer):
    """Finnish personal identity code with every century sign, check character verified."""

    ENTITY: ClassVar[Label] = Label.NATIONAL_ID
    PRESIDIO_ENTITY: ClassVar[str | None] = "FI_HENKILOTUNNUS"
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("fi_hetu", r"\b(?<![\-+])(?P<phi>\d{6}[-+YXWVUABCDEF]\d{3}[0-9A-Y])(?![\w\-])", 0.5, country="fi"),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("henkilötunnus", "hetu", "sotu", "personbeteckning")

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Valid date, individual number and check character, or no match."""
        return 1.0 if is_valid(text[start:end]) else None
