"""Runs of capitalised words, the unit the name, place and hospital recognizers reason about."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex

WORD = regex.compile(r"[\p{L}][\p{L}'’\-]*\.?|\d+")
"""A word (letters, inner apostrophes and hyphens, an optional trailing dot) or a number."""


_ABBREVIATIONS = frozenset({"St", "Dr", "Prof", "Mr", "Mrs", "Ms", "Hr", "Fr"})


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def bare(self) -> str:
        return self.text.rstrip(".")

    @property
    def bare_end(self) -> int:
        """End offset without a sentence-final dot (an initial like ``A.`` keeps its dot)."""
        return self.end if len(self.bare) == 1 else self.start + len(self.bare)

    @property
    def is_cap(self) -> bool:
        return (self.text[:1].isupper() and not self.text.isupper()) or (len(self.bare) == 1 and self.text.isupper())


@lru_cache(maxsize=4)
def tokens(text: str) -> tuple[Token, ...]:
    """The words of ``text`` in order (cached: the name, hospital and place recognizers read the same text)."""
    return tuple(Token(m.group(0), m.start(), m.end()) for m in WORD.finditer(text))


def adjacent(text: str, left: Token, right: Token) -> bool:
    """Whether ``right`` follows ``left`` after a single space (not across a line, comma or other punctuation)."""
    if left.text.endswith(".") and len(left.bare) > 1 and left.bare not in _ABBREVIATIONS:
        return False  # a full stop ends the run ("Lisa Berg. Karolinska ...")
    return text[left.end : right.start] == " "


def sentence_initial(text: str, token: Token) -> bool:
    """Whether ``token`` starts a sentence, line or field (so a capital letter says nothing)."""
    before = text[: token.start].rstrip(" \t")
    return not before or before[-1] in ".!?:\n;•-*(\"'"
