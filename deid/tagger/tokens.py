"""Words with their character offsets, and the BIO tags a set of gold spans gives them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import regex

_TOKEN = regex.compile(r"\p{L}{1,3}\.(?!\p{L})|\p{L}+(?:[-'’]\p{L}+)*|\p{N}+|[^\s\p{L}\p{N}]")
"""An initial or short abbreviation with its full stop (``K.``, ``Dr.``, ``gt.``), a run of letters (inner hyphens
and apostrophes kept), a run of digits, or one other visible character; a sentence's full stop is its own."""


class Token(NamedTuple):
    """One word of a text and where it lies."""

    start: int
    end: int
    text: str


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` in order."""
    return [Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def bio_tags(tokens: Sequence[Token], spans: Sequence[tuple[int, int, str]]) -> list[str]:
    """``B-LABEL``/``I-LABEL``/``O`` per token: a token belongs to the span its first character lies in."""
    tags = ["O"] * len(tokens)
    ordered = sorted(spans)
    j = 0
    for i, tok in enumerate(tokens):
        while j < len(ordered) and ordered[j][1] <= tok.start:
            j += 1
        if j < len(ordered) and ordered[j][0] <= tok.start < ordered[j][1]:
            start, _, label = ordered[j]
            first = i == 0 or tokens[i - 1].start < start
            tags[i] = f"{'B' if first else 'I'}-{label}"
    return tags


def spans_of(tokens: Sequence[Token], tags: Sequence[str], probs: Sequence[float]) -> list[tuple[int, int, str, float]]:
    """``(start, end, label, probability)`` of each tagged run: a ``B-`` starts one, a matching ``I-`` continues
    it (a stray ``I-`` starts one too); the probability is the run's lowest per-token marginal."""
    out: list[tuple[int, int, str, float]] = []
    open_label: str | None = None
    for tok, tag, prob in zip(tokens, tags, probs, strict=True):
        if tag == "O":
            open_label = None
            continue
        kind, label = tag.split("-", 1)
        if kind == "I" and label == open_label:
            start, _, _, lowest = out[-1]
            out[-1] = (start, tok.end, label, min(lowest, prob))
        else:
            out.append((tok.start, tok.end, label, prob))
        open_label = label
    return out
