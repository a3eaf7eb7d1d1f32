"""Word-level BIO examples: read from CoNLL-style TSV files, or built from a note's text and gold char spans."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fednode.errors import NerDataError
from node.ml.ner.labels import ENTITY_TYPES, LABEL2ID

_WORD = re.compile(r"\S+")
_SENTENCE_END = (".", "!", "?")


@dataclass(frozen=True)
class NerExample:
    """One sentence (or note chunk): its words and one BIO tag per word."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise NerDataError(f"{len(self.tokens)} tokens but {len(self.tags)} tags")


def read_conll(path: Path, *, limit: int | None = None) -> list[NerExample]:
    """Read ``TOKEN<TAB>TAG`` lines, sentences separated by blank lines (the NCBI-disease TSV layout).

    ``limit`` keeps the first N sentences. Raises :class:`NerDataError` naming the file and line of a malformed
    row or an unknown tag.
    """
    examples: list[NerExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise NerDataError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if tokens:
                    examples.append(NerExample(tuple(tokens), tuple(tags)))
                    tokens, tags = [], []
                    if limit is not None and len(examples) >= limit:
                        return examples
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0]:
                raise NerDataError("expected TOKEN<TAB>TAG", file=str(path), line=lineno)
            if parts[1] not in LABEL2ID:
                raise NerDataError(f"unknown tag {parts[1]!r}", file=str(path), line=lineno, field="tag")
            tokens.append(parts[0])
            tags.append(parts[1])
    if tokens and (limit is None or len(examples) < limit):
        examples.append(NerExample(tuple(tokens), tuple(tags)))
    return examples


@dataclass(frozen=True)
class CharSpan:
    """A gold annotation in a text: character offsets (end exclusive) and an entity label."""

    start: int
    end: int
    label: str


def spans_to_example(text: str, spans: Sequence[CharSpan]) -> NerExample:
    """Whitespace-tokenise ``text`` and tag each word from the character spans.

    A word overlapping a span is tagged ``B-<label>`` when it is the span's first word, ``I-<label>`` otherwise.
    Spans of labels outside :data:`ENTITY_TYPES` are ignored; a span outside the text raises NerDataError
    (the message gives offsets, never text).
    """
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    tags = ["O"] * len(words)
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if not 0 <= span.start < span.end <= len(text):
            raise NerDataError(f"span [{span.start}, {span.end}) lies outside a text of {len(text)} characters")
        if span.label not in ENTITY_TYPES:
            continue
        first = True
        for i, (w_start, w_end, _) in enumerate(words):
            if w_end <= span.start or w_start >= span.end:
                continue
            if tags[i] != "O":  # overlapping spans: the earlier one keeps the word
                first = False
                continue
            tags[i] = f"{'B' if first else 'I'}-{span.label}"
            first = False
    return NerExample(tuple(w for _, _, w in words), tuple(tags))


def split_sentences(example: NerExample, *, max_words: int = 96) -> list[NerExample]:
    """Cut a long note into sentence-sized chunks so the encoder's 128-subword window loses nothing.

    Cuts after a word ending in ``.``, ``!`` or ``?`` and, failing that, at ``max_words``; never inside an
    entity (a cut is moved past any ``I-`` words that follow).
    """
    chunks: list[NerExample] = []
    start = 0
    n = len(example.tokens)
    for i in range(n):
        next_is_inside = i + 1 < n and example.tags[i + 1].startswith("I-")
        at_end = example.tokens[i].endswith(_SENTENCE_END)
        too_long = i + 1 - start >= max_words
        if (at_end or too_long) and not next_is_inside:
            chunks.append(NerExample(example.tokens[start : i + 1], example.tags[start : i + 1]))
            start = i + 1
    if start < n:
        chunks.append(NerExample(example.tokens[start:], example.tags[start:]))
    return chunks


def shard(examples: Sequence[NerExample], shares: Sequence[float], *, seed: int = 0) -> list[list[NerExample]]:
    """Split ``examples`` into disjoint shards with the given relative sizes (shuffled with ``seed``).

    ``shares`` need not sum to one (``[75, 25]`` works); every example lands in exactly one shard.
    """
    if not shares or any(s <= 0 for s in shares):
        raise NerDataError(f"shares must be positive, got {list(shares)}")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)  # noqa: S311  # a reproducible split, not a secret
    total = float(sum(shares))
    bounds = [0]
    acc = 0.0
    for s in shares:
        acc += s
        bounds.append(round(acc / total * len(order)))
    bounds[-1] = len(order)
    return [[examples[i] for i in order[a:b]] for a, b in itertools.pairwise(bounds)]


def count_entities(examples: Sequence[NerExample]) -> int:
    """How many gold mentions (``B-`` tags) the examples hold."""
    return sum(t.startswith("B-") for ex in examples for t in ex.tags)
