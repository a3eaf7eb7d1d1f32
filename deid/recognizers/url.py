"""URLs: with a scheme, starting ``www.``, or a bare host name under a Nordic-Baltic or generic top-level domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from deid.labels import Label
from deid.recognizers._base import Gate, Rule, RuleRecognizer, Windows, any_literal, blank_free_around

_TLDS = "no|se|dk|fi|ee|com|org|net|eu|io|info|nu|lv|lt|is|de|uk"


class UrlRecognizer(RuleRecognizer):
    """Web addresses."""

    ENTITY: ClassVar[Label] = Label.URL
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("scheme", r"(?P<phi>(?i:https?|ftp)://[^\s<>\"']+[^\s<>\"'.,;:!?)\]])", 0.95),
        Rule("www", r"(?<![\w@./])(?P<phi>(?i:www)\.[\w\-]+(?:\.[\w\-]+)+(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)\]])?)", 0.9),
        Rule(
            "bare",
            rf"\b(?<![@./\-])(?=[\w\-]*+\.[\w\-])(?P<phi>[a-z0-9][\w\-]*(?:\.[\w\-]+)*\.(?:{_TLDS})(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)\]])?)(?![\w@\-])",
            0.6,
        ),
    )
    GATES: ClassVar[Mapping[str, Gate]] = {
        "scheme": any_literal("://"),
        "www": any_literal("www.", ignore_case=True),
    }
    WINDOWS: ClassVar[Mapping[str, Windows]] = {"bare": blank_free_around(rf"\.(?:{_TLDS})(?![\w])")}
