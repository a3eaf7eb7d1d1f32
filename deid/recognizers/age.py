"""Ages over 89 (HIPAA Safe Harbor §164.514(b)(2)(i)(C) aggregates them; Datatilsynet and IMY guidance agree).
Ages under 90 are not identifying and stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from deid.labels import Label
from deid.recognizers._base import Gate, Rule, RuleRecognizer, any_literal, pattern_gate, words_alternation
from deid.wordlists import words

_UNITS = (
    r"(?:år|års|årig|åring|årige|åriga|year|years|yr|yrs|y/o|yo|-year-old|vuotias|vuotiaan|vuotiaana|vuotta|"
    r"aastane|aastase|aastasel|aastat|v|a)"
)
_AFTER_BARE = r"(?=[:;)]|[.,](?!\d)|[ ]\(|[ ]?$|[ ]?\n)"
"""What may follow a bare number read as an age: punctuation, a bracket, the end of the line (not a unit)."""
_CUES = r"(?i:age|aged|alder|ålder|alderen|åldern|ikä|iältään|vanus|vanuses|years old)"


class AgeOver89Recognizer(RuleRecognizer):
    """An age of 90 or more, written with an age word or after an age cue (the number is the span)."""

    ENTITY: ClassVar[Label] = Label.AGE
    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule("age_unit", rf"\b(?<![.,])(?P<phi>\d{{2,3}})(?:[ \-]?{_UNITS})(?![\w])", 0.85),
        Rule("age_cue", rf"{_CUES}[ ]*:?[ ]*(?P<phi>\d{{2,3}})(?![\w.,]\d|[\w])", 0.85),
        Rule("age_after_name_comma", rf"(?<=\p{{Lu}}\p{{Ll}}{{2,}},[ ])(?P<phi>\d{{2,3}}){_AFTER_BARE}", 0.7),
        Rule(
            "age_is",
            r"\b(?i:she|he|patient|pt|hun|han|hon|hän|ta|potilas|patsient)[ ](?i:is|was|er|var|är|on|oli)[ ]"
            r"(?:(?i:now|nå|nu|nyt|nüüd)[ ])?(?P<phi>\d{2,3})(?![\w.,]\d|[\w])(?![ ]?(?:[%°/]|\p{Ll}{1,4}/))"
            r"(?![ ](?i:mg|kg|g|mmol|cm|mm|ml|l|min|bpm|kpa|prosent|procent|percent|protsenti|prosenttia)(?![\w]))",
            0.75,
        ),
        Rule("age_after_id", r"(?<=\d{4}[ ])\((?P<phi>\d{2,3})\)", 0.7),
        Rule("age_after_name", r"(?<=\p{Lu}\p{Ll}{2,}[ ])\((?P<phi>\d{2,3})\)", 0.7),
        Rule(
            "age_verb",
            rf"\b(?i:{words_alternation(words('age_verbs'))})[ ](?:(?i:just|nå|nu|nyss|juuri|just)[ ])?"
            r"(?P<phi>\d{2,3})(?![\w.,]\d|[\w])",
            0.85,
        ),
        Rule(
            "age_in_words",
            r"\b(?:(?i:aged|age|alder|ålder|ikä|vanus)[ ]"
            r"(?P<phi>(?i:ninety|a[ ]hundred|hundred)(?:[\- ]\p{Ll}+)?)"
            r"|(?P<phi>(?i:nitti|nittio|halvfems|yhdeksänkymmentä|üheksakümmend|ninety)\p{Ll}*)"
            r"[ \-](?i:år|årig|aastane|vuotias|years?|-year-old))(?![\w])",
            0.8,
        ),
        Rule("age_paren", r"\((?P<phi>\d{2,3})[ ]?(?:v|a|år|y|yo|yrs|years|vuotta|aastat|j)\.?\)", 0.85),
    )

    GATES: ClassVar[Mapping[str, Gate]] = {
        # every cue alternative contains one of these ("aged" holds "age", "åldern" holds "ålder", ...)
        "age_cue": any_literal("age", "alder", "ålder", "ikä", "iältään", "vanus", "years old", ignore_case=True),
        "age_verb": any_literal(*words("age_verbs"), ignore_case=True),
        "age_in_words": any_literal(
            "ninety", "hundred", "nitti", "halvfems", "yhdeksänkymmentä", "üheksakümmend", ignore_case=True
        ),
        "age_after_id": pattern_gate(r"\(\d{2,3}\)"),
        "age_after_name": pattern_gate(r"\(\d{2,3}\)"),
    }

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """Only 90 to 125 (an age written in words is 90 or more by its first word)."""
        if rule.name == "age_in_words":
            return rule.score
        return rule.score if 90 <= int(text[start:end]) <= 125 else None
