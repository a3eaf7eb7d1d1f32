"""Runs of capitalised words, the unit the name, place and hospital recognizers reason about."""

from __future__ import annotations

from functools import lru_cache

import regex

WORD = regex.compile(r"[\p{L}][\p{L}'’\-]*\.?|\d+")
"""A word (letters, inner apostrophes and hyphens, an optional trailing dot) or a number."""


GIVEN_NAME_ABBREVIATIONS = frozenset(
    {"Kr", "Chr", "Joh", "Th", "Ths", "Wm", "Jac", "Edw", "Geo", "Ch", "Jos", "Vilh", "Mich"}
)
"""Given names written short with a full stop in a signature (``Kr. Tvedt``, ``Chr. Holm``, ``Joh. Berg``)."""
_ABBREVIATIONS = frozenset({"St", "Dr", "Prof", "Mr", "Mrs", "Ms", "Hr", "Fr", *GIVEN_NAME_ABBREVIATIONS})
_JOINED_INITIALS = regex.compile(r"\p{Lu}(?:-\p{Lu})+\.")
"""Initials of a double given name joined by a hyphen, with the full stop (``S-L.`` for Sirkka-Liisa)."""


def joined_initials(text: str) -> bool:
    """``text`` is hyphen-joined initials with their full stop (``S-L.``, ``A-M.``)."""
    return _JOINED_INITIALS.fullmatch(text) is not None


class Token:
    """A word of a text and where it lies; ``bare``, ``bare_end`` and ``is_cap`` are computed once (the name,
    hospital and place recognizers ask them for every token)."""

    __slots__ = ("bare", "bare_end", "end", "initials", "is_cap", "start", "text")

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text = text
        self.start = start
        self.end = end
        bare = text.rstrip(".")
        self.bare = bare
        #: end offset without a sentence-final dot (an initial like ``A.`` keeps its dot)
        self.bare_end = end if len(bare) == 1 else start + len(bare)
        #: hyphen-joined initials (``S-L.``), which stand where a single initial does
        self.initials = len(bare) > 2 and text.endswith(".") and joined_initials(text)
        self.is_cap = (
            (text[:1].isupper() and not text.isupper()) or (len(bare) == 1 and text.isupper()) or self.initials
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Token):
            return NotImplemented
        return (self.text, self.start, self.end) == (other.text, other.start, other.end)

    def __hash__(self) -> int:
        return hash((self.text, self.start, self.end))

    def __repr__(self) -> str:
        return f"Token(text={self.text!r}, start={self.start}, end={self.end})"


@lru_cache(maxsize=4)
def tokens(text: str) -> tuple[Token, ...]:
    """The words of ``text`` in order (cached: the name, hospital and place recognizers read the same text)."""
    return tuple(Token(m.group(0), m.start(), m.end()) for m in WORD.finditer(text))


def adjacent(text: str, left: Token, right: Token) -> bool:
    """Whether ``right`` follows ``left`` after a single space (not across a line, comma or other punctuation)."""
    if left.text.endswith(".") and len(left.bare) > 1 and left.bare not in _ABBREVIATIONS and not left.initials:
        return False  # a full stop ends the run ("Lisa Berg. Karolinska ...")
    return text[left.end : right.start] == " "


def sentence_initial(text: str, token: Token) -> bool:
    """Whether ``token`` starts a sentence, line or field (so a capital letter says nothing)."""
    i = token.start
    while i > 0 and text[i - 1] in " \t":  # back over the blanks before it (no copy of the text before)
        i -= 1
    return i == 0 or text[i - 1] in ".!?:\n;•-*(\"'"
