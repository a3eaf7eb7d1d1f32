"""Medical record, case, referral and sample numbers: an identifier after its cue word (``MRN``, ``journalnr``,
``sagsnr.``, ``potilasnumero``, ``haigusloo nr``...). The identifier is the span; the cue stays.
"""

from __future__ import annotations

from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer

_CUES = (
    r"(?i:mrn|medical record(?: number| no\.?)?|record (?:number|no\.?)|case (?:number|no\.?)|patient[ \-]?id|"
    r"journal(?:nummer|nr)?|journalnr|pasientnr|pasient-id|patientnr|sagsnr|saksnr|saksnummer|sagsnummer|"
    r"ärendenr|ärendenummer|diarienr|diarienummer|remissnr|henvisningsnr|prøvenr|prøvenummer|provnr|labnr|"
    r"potilasnumero|potilasnro|potilastunniste|sairauskertomusnumero|lähetenumero|näytenumero|"
    r"haigusloo nr|haigusloo number|haiguslugu|juhtumi nr|saatekiri nr|accession(?: number| no\.?)?|episode(?: no\.?)?|"
    r"rekvisisjonsnr|rekvisisjonsnummer|rekvisitionsnr|rekvisitionsnummer|henvisningsnummer|remissnummer|"
    r"provnummer|labbnr|labnummer|prøve(?:nr)?|prov|provrör|lähete|lähetteen numero|näyte|tutkimusnumero|"
    r"saatekirja(?: nr| number)?|saatekiri|proovi(?: nr| number)?|proov|analüüsi nr|"
    r"referral(?: number| no\.?)?|requisition(?: number| no\.?)?|sample(?: number| no\.?| id)?|"
    r"specimen(?: number| no\.?)?|order(?: number| no\.?)|asianumero|diaarinumero|dnro|asiakasnumero|"
    r"oppdrag(?:snr|snummer)?|uppdrag(?:snr|snummer)?|opgave(?:nr)?|tehtävä(?:numero)?|väljakutse|job|incident)"
)


class RecordNumberRecognizer(RuleRecognizer):
    """Record and case numbers after a cue word."""

    ENTITY: ClassVar[Label] = Label.ID
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "cued_record",
            rf"(?<![\w]){_CUES}\.?[ ]*(?:(?i:nr|no|number)\.?[ ]*)?[:#]?[ ]*"
            rf"(?P<phi>[A-Z]{{0,4}}[\-/]?\d[\dA-Z\-/]{{3,24}})(?![\w\-/])",
            0.85,
        ),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """At least four digits; never a bare year (``prøve 2024``)."""
        value = text[start:end]
        if sum(c.isdigit() for c in value) < 4 or (len(value) == 4 and value.isdigit() and 1900 <= int(value) <= 2099):
            return None
        return rule.score
