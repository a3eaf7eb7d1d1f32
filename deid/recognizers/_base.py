r"""What the regex-and-rule recognizers share: one pattern table per class, a ``phi`` group, a validator.

Speed conventions for patterns: a pattern whose first character is always a word character (a cue word, a
capitalised name) starts with ``\b``, which there means the same as ``(?<![\w])`` and which the regex module scans
for about twice as fast; a rule that cannot match without some literal text gets a gate
(:attr:`RuleRecognizer.GATES`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import regex
from presidio_analyzer import EntityRecognizer, LocalRecognizer, RecognizerResult

from deid.labels import Label

COUNTRY_KEY = "country"
"""``recognition_metadata`` key naming the country whose identifier format matched (``no``, ``se``, ...)."""


@dataclass(frozen=True)
class Rule:
    """One pattern: its name, the regex, the base score, and the country it belongs to (if any).

    When the regex has a group named ``phi`` only that group is the span (the rest is context, like a cue word).
    """

    name: str
    pattern: str
    score: float
    country: str = ""
    flags: int = regex.UNICODE


Gate = Callable[[str], bool]
"""A cheap test a text must pass before a rule runs on it; it holds for every text the rule can match in."""


def any_literal(*literals: str, ignore_case: bool = False) -> Gate:
    """A gate: one of ``literals`` occurs in the text (case-insensitively by the regex module's own case rules
    with ``ignore_case``). A single literal is found by a fast string search; a rule's pass costs far more."""
    if not ignore_case:
        return lambda text: any(w in text for w in literals)
    patterns = [regex.compile(f"(?i:{regex.escape(w)})") for w in literals]
    return lambda text: any(p.search(text) is not None for p in patterns)


def pattern_gate(pattern: str) -> Gate:
    """A gate: ``pattern`` (best one that starts with a literal character) matches somewhere in the text."""
    compiled = regex.compile(pattern)
    return lambda text: compiled.search(text) is not None


Windows = Callable[[str], Sequence[tuple[int, int]]]
"""The stretches of a text a rule runs in (``(start, end)``, in order, apart); none: the rule does not run."""

_BLANKS = (" ", "\n", "\t", "\r")


def blank_free_around(anchor: str) -> Windows:
    """Windows for a rule whose every match is written without blanks and holds a match of ``anchor`` (an e-mail
    address its ``@``, a host name its top-level domain): each run of non-blank characters with an anchor in it.

    Scanning a 2 KB note for a rule's first character costs more than finding its anchor and matching the word
    around it. A window is bounded by blanks, so the rule's look-arounds read the same as in the whole text."""
    compiled = regex.compile(anchor)

    def windows(text: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for m in compiled.finditer(text):
            if out and m.start() < out[-1][1]:
                continue
            start = max(text.rfind(blank, 0, m.start()) for blank in _BLANKS) + 1
            ends = [i for blank in _BLANKS if (i := text.find(blank, m.end())) >= 0]
            out.append((start, min(ends, default=len(text))))
        return out

    return windows


class RuleRecognizer(LocalRecognizer):
    """A recognizer driven by a table of :class:`Rule` and a per-match :meth:`check`."""

    ENTITY: ClassVar[Label]
    RULES: ClassVar[Sequence[Rule]]
    GATES: ClassVar[Mapping[str, Gate]] = {}
    """Per rule name, a cheap test a text must pass before that rule runs on it (see :meth:`active_rules`)."""
    WINDOWS: ClassVar[Mapping[str, Windows]] = {}
    """Per rule name, the only stretches of a text that rule runs in (see :func:`blank_free_around`)."""
    PRESIDIO_ENTITY: ClassVar[str | None] = None
    """Presidio entity name when it differs from the label (``DK_CPR``): keeps each country's reading of a number
    apart until our resolution, since Presidio merges same-entity duplicates and would drop the country."""

    def __init__(self, supported_language: str = "en", rules: Sequence[Rule] | None = None) -> None:
        self._rules = tuple(rules if rules is not None else self.RULES)
        self._compiled = [(r, regex.compile(r.pattern, r.flags)) for r in self._rules]
        super().__init__(
            supported_entities=[self.entity_name],
            supported_language=supported_language,
            name=f"{type(self).__name__}_{supported_language}",
        )

    @property
    def entity_name(self) -> str:
        return self.PRESIDIO_ENTITY or str(self.ENTITY)

    def load(self) -> None:
        """Nothing to load: the rules compile in ``__init__``."""

    def check(self, text: str, start: int, end: int, match: Any, rule: Rule) -> float | None:
        """The score for a match, or None to reject it. Override to validate (checksums, dates, word lists)."""
        return rule.score

    def active_rules(self, text: str) -> Sequence[tuple[Rule, Any]]:
        """The compiled rules worth running on ``text``: those without a gate in :attr:`GATES` and those whose gate
        ``text`` passes."""
        if not self.GATES:
            return self._compiled
        return [(r, c) for r, c in self._compiled if (g := self.GATES.get(r.name)) is None or g(text)]

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        """Every validated match of every rule."""
        if entities and self.entity_name not in entities:
            return []
        best: dict[tuple[int, int], RecognizerResult] = {}
        whole = ((0, len(text)),)
        for rule, compiled in self.active_rules(text):
            windows = self.WINDOWS.get(rule.name)
            for match in (
                m
                for pos, endpos in (whole if windows is None else windows(text))
                for m in compiled.finditer(text, pos, endpos, timeout=5.0)
            ):
                start, end = match.span("phi") if "phi" in compiled.groupindex else match.span()
                if start < 0 or start >= end:
                    continue
                score = self.check(text, start, end, match, rule)
                if score is None or score <= 0:
                    continue
                if (start, end) in best and best[(start, end)].score >= score:
                    continue
                best[(start, end)] = make_result(self, self.entity_name, start, end, score, rule.country)
        return _maximal(list(best.values()))


def make_result(
    recognizer: EntityRecognizer, entity: str, start: int, end: int, score: float, country: str = ""
) -> RecognizerResult:
    """A Presidio result carrying the recognizer's name and id and our country key."""
    name = str(recognizer.name)  # type: ignore[has-type]  # presidio assigns it in __init__ without a type
    return RecognizerResult(
        entity_type=entity,
        start=start,
        end=end,
        score=score,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
            COUNTRY_KEY: country,
        },
    )


def _maximal(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Drop results that lie inside a longer result of the same recognizer (``5123 4567`` in ``+372 5123 4567``).

    One sweep in start order (longest first at equal starts); spans are already unique.
    """
    kept: list[RecognizerResult] = []
    max_end = -1
    for r in sorted(results, key=lambda r: (r.start, -r.end)):
        if r.end <= max_end:
            continue
        kept.append(r)
        max_end = r.end
    return kept


def words_alternation(words: Sequence[str]) -> str:
    """A regex alternation of ``words``, longest first, escaped."""
    return "|".join(regex.escape(w) for w in sorted(set(words), key=len, reverse=True))


def is_valid_date(year: int, month: int, day: int) -> bool:
    """Whether year-month-day is a calendar date."""
    import calendar

    if not (1 <= month <= 12) or day < 1:
        return False
    return day <= calendar.monthrange(year, month)[1]


DOSE_AFTER = regex.compile(
    r"(?:[ ]\p{L}+){0,2}[ ]?\d+(?:[.,]\d+)?[ ]?(?i:mg|ml|g|µg|mcg|ug|ie|iu|e|mmol|mikrog|tabl?|kaps|%)(?![\w])"
)
"""A dose within two words after a capitalised run: the run names a drug (``Xylocain Dental adrenalin 1,8 ml``)."""
RESULT_AFTER = regex.compile(
    r"[ ]*(?:(?i:neg|pos|negative|positive|negativ|positiv|negatiivinen|positiivinen|negatiivne|positiivne)"
    r"(?![\w])|[+−](?=[ ]*(?:[,.;)/]|$)))|[ ][SRI](?=,)",
    regex.MULTILINE,
)
"""A test's or a sign's result right after a name (``Babinski neg.``, ``Lasègue +``, ``RH neg.``, an antibiotic's
susceptibility ``Nitrofurantoin S,``): a reflex, a blood group, a resistance pattern, never a person. A sign's
``+`` ends its clause (``partner Aoife + 2 kids`` is a person and more)."""
