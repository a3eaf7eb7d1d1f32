"""Telephone numbers of Norway, Sweden, Denmark, Finland and Estonia (national numbering plans: Nkom, PTS,
Energistyrelsen, Traficom, TTJA), in international form (``+47``, ``0047``, ``(+358)``) or national groupings.

National 8-digit Norwegian/Danish numbers written without spaces look like any other number, so they count only
next to a phone cue word (``tlf``, ``tel``, ``puh``, ``mob``, ``gsm``, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer

_CC = r"(?:47|46|45|358|372)"
_END = r"(?![\d])"
_START = r"(?<![\w+\-/.,])"

CUES = (
    r"(?i:tlf|tel|telefon|telefonnr|telefonnummer|phone|ph|puh|puhelin|puhelinnumero|mob|mobil|mobile|mobiltelefon"
    r"|gsm|mobiil|matkapuhelin|kontakt|tavoitettavissa|soita|soittakaa|helista|helistada|call back on|call"
    r"|ring back on|ring tilbake på|ring tillbaka på|ring tilbage på|(?:ringes|ringt|ring|ringde|ringede"
    r"|ringet|nås|treffes|træffes|nåes) på|ring|reached on|reached at|call on|phoned on|on mobile)"
)
"""Phone cue words and phrases (``ringt på``, ``nås på``, ``reached on``, ``tavoitettavissa``)."""


class NordicPhoneRecognizer(RuleRecognizer):
    """Phone numbers of the five countries."""

    ENTITY: ClassVar[Label] = Label.PHONE
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "intl",
            rf"(?<![\w])(?P<phi>(?:\(\+?{_CC}\)|\+{_CC}|00{_CC})[ \-]?(?:\(0\)[ \-]?)?\d(?:[ \-]?\d){{5,10}}){_END}",
            0.9,
        ),
        Rule("intl_other", rf"(?<![\w+])(?P<phi>\+[1-9]\d{{0,2}}[ \-]?\d(?:[ \-]?\d){{6,12}}){_END}", 0.7),
        Rule("no_dk_2222", rf"{_START}(?P<phi>\d{{2}} \d{{2}} \d{{2}} \d{{2}}){_END}", 0.6, country="no"),
        Rule("no_323", rf"{_START}(?P<phi>[2-9]\d{{2}} \d{{2}} \d{{3}}){_END}", 0.6, country="no"),
        Rule("dk_44", rf"{_START}(?P<phi>[2-9]\d{{3}} \d{{4}}){_END}", 0.5, country="dk"),
        Rule("se_area", rf"{_START}(?P<phi>0\d{{1,3}}-\d{{2,3}}(?: \d{{2,3}}){{1,3}}){_END}", 0.7, country="se"),
        Rule("se_mobile", rf"{_START}(?P<phi>07\d \d{{3}} \d{{2}} \d{{2}}){_END}", 0.7, country="se"),
        Rule("se_mobile_4222", rf"{_START}(?P<phi>07\d\d \d{{2}} \d{{2}} \d{{2}}){_END}", 0.7, country="se"),
        Rule(
            "fi", rf"{_START}(?P<phi>(?:\(0\d{{1,2}}\)|0\d{{1,3}})[ \-]\d{{3,4}} ?\d{{3,4}}){_END}", 0.6, country="fi"
        ),
        Rule("ee", rf"{_START}(?P<phi>[56]\d{{2,3}} \d{{4}}){_END}", 0.5, country="ee"),
        Rule(
            "cued_number",
            rf"(?<![\w])(?i:numero|number|nummer)\.?:?[ ]*(?P<phi>(?:0[4-9]\d{{8}}|[2-9]\d{{6,7}})){_END}",
            0.7,
        ),
        Rule(
            "cued_number_grouped",
            rf"(?<![\w])(?i:numero|number|nummer|nr)\.?:?[ ]*(?P<phi>0\d{{2,4}}[ ]\d{{3}}[ ]?\d{{3,4}}){_END}",
            0.7,
        ),
        Rule("uk_mobile", rf"{_START}(?P<phi>07\d{{3}}[ ]\d{{6}}){_END}", 0.6),
        Rule("cued", rf"(?<![\w]){CUES}\.?:?[ ]*(?:nr\.?[ ]*)?(?P<phi>\+?\d[\d \-()]{{5,16}}\d){_END}", 0.8),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Between 7 and 15 digits, as the numbering plans allow."""
        digits = sum(c.isdigit() for c in text[start:end])
        return rule.score if 7 <= digits <= 15 else None
