"""British health service numbers: the NHS number (England, Wales, Isle of Man), the CHI number (Scotland) and
the Health and Care number (Northern Ireland).

Ten digits, the last a modulus-11 check digit over the first nine (the same scheme for all three; a CHI number's
first six digits are the holder's birth date), written ``943 476 5919``, ``943-476-5919``, ``0101425565`` or
``010142 5565``. Ten digits pass the check one time in eleven by chance, so a number is taken only after its cue
(``NHS no``, ``CHI number``, ``H&C``, ``HCN``) or grouped 3-3-4 as the NHS writes it, and only when python-stdnum
(``stdnum.gb.nhs``) validates it; an invalid one stays (a distractor, like an invalid personal number).
"""

from __future__ import annotations

from typing import Any, ClassVar

import regex
from stdnum.gb import nhs

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer

_CUE = r"(?:NHS|nhs|CHI|H&C|H\+C|HCN|(?i:health and care))"
_NUMBER_WORD = r"(?:[ ]?(?i:number|no\.?|nr|num)\.?)?"
_PHONE_BEFORE = regex.compile(r"(?i:ring|call|phone|tel|mob|mobile|contact|on|fax)\.?:?[ ]*$")
"""A phone's cue right before a grouped number: a phone number, whatever its check digit says."""


class GbHealthNumberRecognizer(RuleRecognizer):
    """An NHS, CHI or Health and Care number after its cue, check digit verified."""

    ENTITY: ClassVar[Label] = Label.NATIONAL_ID
    PRESIDIO_ENTITY: ClassVar[str | None] = "GB_HEALTH_NUMBER"
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "gb_health_number",
            rf"(?<![\w]){_CUE}{_NUMBER_WORD}[ ]*[:#]?[ ]*(?:(?:is|was|allocated|given|issued|confirmed)[ ]+){{0,2}}"
            r"(?P<phi>\d{3}[ \-]?\d{3}[ \-]?\d{4}|\d{6}[ \-]\d{4})(?![\w\-/]|[.,]\d)",
            0.5,
            country="gb",
        ),
        Rule(
            # grouped 3-3-4 and opening with no trunk zero, the NHS style (a British or Irish phone opens with 0):
            # valid far from its cue too ("... his correct number is 485 777 3457")
            "gb_health_number_grouped",
            r"(?<![\w\-/+.])(?<!\+\d{1,3}[ ])(?P<phi>[1-9]\d{2}[ ]\d{3}[ ]\d{4})(?![\w\-/]|[.,]\d)",
            0.5,
            country="gb",
        ),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """A valid check digit, or no match."""
        if rule.name == "gb_health_number_grouped" and _PHONE_BEFORE.search(text, max(0, start - 24), start):
            return None  # "Ring 654 123 9878": a phone number that happens to pass the check
        return 1.0 if nhs.is_valid(text[start:end].replace(" ", "").replace("-", "")) else None
