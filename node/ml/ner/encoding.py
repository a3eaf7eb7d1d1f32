"""Subword encoding with first-subword labelling, and padded batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from fednode.errors import NerDataError
from node.ml.ner.data import NerExample
from node.ml.ner.labels import IGNORE_INDEX, LABEL2ID

MAX_LENGTH = 128


@dataclass(frozen=True)
class Encoded:
    """One example as model input: ids, per-subword label ids (-100 except first subwords), word of each subword."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    word_ids: tuple[int | None, ...]
    num_words: int


@dataclass(frozen=True)
class EncodedDataset:
    """Encoded examples kept with their source (evaluation maps predictions back to words)."""

    examples: tuple[NerExample, ...]
    encoded: tuple[Encoded, ...]

    def __len__(self) -> int:
        return len(self.encoded)


def encode(examples: Sequence[NerExample], tokenizer: Any, *, max_length: int = MAX_LENGTH) -> EncodedDataset:
    """Tokenise words into subwords (fast tokenizer, ``is_split_into_words``), truncating at ``max_length``.

    The first subword of each word carries the word's tag; later subwords and special tokens carry -100.
    Words cut off by truncation get no label here; :func:`node.ml.ner.evaluate` counts them as predicted ``O``.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise NerDataError("first-subword labelling needs a fast tokenizer (tokenizer.json in the model folder)")
    out: list[Encoded] = []
    if not examples:
        return EncodedDataset((), ())
    batch = tokenizer(
        [list(ex.tokens) for ex in examples],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
    )
    for i, ex in enumerate(examples):
        word_ids: list[int | None] = batch.word_ids(i)
        labels: list[int] = []
        previous: int | None = None
        for w in word_ids:
            if w is None or w == previous:
                labels.append(IGNORE_INDEX)
            else:
                labels.append(LABEL2ID[ex.tags[w]])
            previous = w
        out.append(Encoded(tuple(batch["input_ids"][i]), tuple(labels), tuple(word_ids), len(ex.tokens)))
    return EncodedDataset(tuple(examples), tuple(out))


def collate(items: Sequence[Encoded], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch on the right: ``input_ids``, ``attention_mask`` and ``labels`` tensors."""
    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    for row, e in enumerate(items):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids, dtype=torch.long)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e.labels, dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
