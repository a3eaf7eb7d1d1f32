"""IPv4 and IPv6 addresses, validated with the standard library's ``ipaddress``."""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Rule, RuleRecognizer


class IpRecognizer(RuleRecognizer):
    """IP addresses."""

    ENTITY: ClassVar[Label] = Label.IP
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("ipv4", r"(?<![\d.])(?P<phi>(?:\d{1,3}\.){3}\d{1,3})(?![\d]|\.\d)", 0.9),
        Rule("ipv6", r"(?<![\w:])(?P<phi>(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})(?![\w:])", 0.9),
    )

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """A real address by ``ipaddress``; IPv6 must have at least one hex letter or ``::`` (not a clock time)."""
        value = text[start:end]
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return None
        if rule.name == "ipv6" and value.count(":") < 3 and "::" not in value:
            return None
        return rule.score
