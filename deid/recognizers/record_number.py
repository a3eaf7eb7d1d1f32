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
    r"haigusloo nr|haigusloo number|haiguslugu|juhtumi nr|saatekiri nr|accession(?: number| no\.?)?|episode(?: no\.?)?)"
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
        """At least four digits; never a bare date."""
        value = text[start:end]
        return rule.score if sum(c.isdigit() for c in value) >= 4 else None
