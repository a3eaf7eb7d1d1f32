"""E-mail addresses (RFC 5322 addr-spec, the practical subset), validated without any network lookup.

Presidio's own ``EmailRecognizer`` validates the domain with ``tldextract``, which may download the public
suffix list; this one checks the shape of the domain itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer, Windows, blank_free_around


class EmailRecognizer(RuleRecognizer):
    """E-mail addresses."""

    ENTITY: ClassVar[Label] = Label.EMAIL
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "email",
            r"(?<![\w.+\-])(?=[\w.+\-]*+@)(?P<phi>[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,24})(?![\w@])",
            0.95,
        ),
    )

    WINDOWS: ClassVar[Mapping[str, Windows]] = {"email": blank_free_around("@")}

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """No empty labels, no leading or doubled dots in the local part."""
        local, _, domain = text[start:end].partition("@")
        if local.startswith(".") or ".." in local or any(not part for part in domain.split(".")):
            return None
        return rule.score
