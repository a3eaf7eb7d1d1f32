"""Postal code followed by a town (``0155 Oslo``, ``114 55 Stockholm``, ``DK-8000 Aarhus C``, ``00100 Helsinki``,
``10115 Tallinn``). A code alone is too ambiguous to count. Four-digit codes that could be a year (1900-2099) count
only before a known town name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from deid.labels import Label
from deid.lexicon import cities
from deid.recognizers._base import Rule, RuleRecognizer

_CAP = r"[A-ZÆØÅÄÖÕÜŠŽ][\w\-]+"


class PostalCodeRecognizer(RuleRecognizer):
    """A postal code and the town after it."""

    ENTITY: ClassVar[Label] = Label.ADDRESS
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "postal_town",
            rf"\b(?<![\-,.])(?P<phi>(?P<prefix>(?:N|S|DK|FI|EE)-)?(?P<code>\d{{3}}[ ]\d{{2}}|\d{{4,5}})[ ]"
            rf"(?P<town>{_CAP}(?:[ ](?:{_CAP}|C|V|K|S|N|Ø))?))(?![\w])",
            0.6,
        ),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Known town, or a code that cannot be a year."""
        town = match.group("town").split(" ")[0]
        code = match.group("code")
        if town in cities():
            return 0.8
        could_be_year = len(code) == 4 and 1900 <= int(code) <= 2099
        if len(town) <= 3 and town.isupper():
            return None  # a unit after a dose (``5000 IE``, ``5000 TÜ``), not a town
        if could_be_year or town.lower() == town:
            return None
        return rule.score if match.group("prefix") or len(code) != 4 else 0.45
