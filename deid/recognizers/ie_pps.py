"""Irish Personal Public Service number (PPSN; Social Welfare Consolidation Act 2005, s. 262).

Seven digits, a check letter and, on numbers issued since 2013, a second letter (``A``, ``B`` or ``H``; older
numbers may end in ``W``, ``T`` or ``X``): ``2357708H``, ``1234567TW``. The check letter is verified by
python-stdnum (``stdnum.ie.pps``); a number whose check letter fails is not PHI and stays.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stdnum.ie import pps

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer


class IePpsRecognizer(RuleRecognizer):
    """Irish PPS number, with or without its cue (``PPSN``, ``PPS no``), check letter verified."""

    ENTITY: ClassVar[Label] = Label.NATIONAL_ID
    PRESIDIO_ENTITY: ClassVar[str | None] = "IE_PPS"
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("ie_pps", r"\b(?<![\-/.])(?P<phi>\d{7}[A-W][ABHWTX]?)(?![\w\-/])", 0.5, country="ie"),
        Rule(
            "ie_pps_cued",
            r"(?<![\w])(?i:ppsn|pps(?:[ ]?(?:no|nr|number|num))?)\.?:?[ ]*(?P<phi>\d{7}[ \-]?(?i:[A-W][ABHWTX]?))"
            r"(?![\w\-/])",
            0.5,
            country="ie",
        ),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """A valid check letter, or no match."""
        return 1.0 if pps.is_valid(text[start:end]) else None
