"""The label set of the built-in NER task (BIO over one entity type, as in NCBI-disease)."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("O", "B-Disease", "I-Disease")
"""Word-level BIO tags, in model output order."""

LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))
IGNORE_INDEX = -100
"""Label id that the loss and the metrics skip (special tokens, non-first subwords)."""

ENTITY_TYPES: tuple[str, ...] = ("Disease",)
