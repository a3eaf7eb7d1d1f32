"""Label-aware sub-word handling: label every sub-word of a word for training, keep first-piece decoding.

Under first-piece labelling (``node.ml.ner.encoding``) only the first sub-word of a word carries its tag and
the rest are ignored by the loss. ``continue`` labelling also trains the later pieces: a word tagged ``B-X`` or
``I-X`` gives its later pieces ``I-X`` (they continue the mention), an ``O`` word gives ``O``. Predictions are
still read from the first piece of each word, so the standard word-level evaluation is unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from node.ml.ner.encoding import Encoded, EncodedDataset
from node.ml.ner.labels import ID2LABEL, IGNORE_INDEX, LABEL2ID

FIRST = "first"
CONTINUE = "continue"
SUBWORD_MODES: tuple[str, ...] = (FIRST, CONTINUE)


def _continuation(label_id: int) -> int:
    tag = ID2LABEL[label_id]
    return LABEL2ID[f"I-{tag[2:]}"] if tag != "O" else label_id


def continue_labels(enc: Encoded) -> Encoded:
    """``enc`` with every later sub-word of a labelled word labelled as the word's continuation."""
    labels = list(enc.labels)
    current = IGNORE_INDEX
    previous: int | None = None
    for pos, w in enumerate(enc.word_ids):
        if w is None:
            current, previous = IGNORE_INDEX, None
            continue
        if w != previous:
            current = labels[pos]
        elif current != IGNORE_INDEX:
            labels[pos] = _continuation(current)
        previous = w
    return replace(enc, labels=tuple(labels))


def relabel(data: EncodedDataset, mode: str) -> EncodedDataset:
    """``data`` under sub-word labelling ``mode`` (``first``: unchanged; ``continue``: see the module)."""
    if mode == FIRST:
        return data
    if mode != CONTINUE:
        raise ValueError(f"unknown sub-word labelling {mode!r}")
    return EncodedDataset(data.examples, tuple(continue_labels(e) for e in data.encoded))


__all__ = ["CONTINUE", "FIRST", "SUBWORD_MODES", "continue_labels", "relabel"]
