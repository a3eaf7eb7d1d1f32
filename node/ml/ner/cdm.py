"""Training examples from the site's OMOP CDM: de-identified NOTE text with NOTE_NLP gold spans.

The reader is :func:`omop_etl.notes.read_gold_notes` (``(note_id, text, ((start, end, label), ...))`` per
note); it is imported lazily so the trainer runs where SQLAlchemy is not installed (the GPU benchmark machine).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from node.ml.ner.data import CharSpan, NerExample, spans_to_example, split_sentences

GoldNote = tuple[int, str, Sequence[tuple[int, int, str]]]
"""One note as the CDM reader yields it: note_id, de-identified text, gold (start, end, label) spans."""

NER_SPLIT_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "note": ("note_id", "note_text"),
        "note_nlp": ("note_id", "offset", "lexical_variant", "term_modifiers", "nlp_system"),
    }
)
"""Every CDM column the NER examples are read from (:func:`omop_etl.notes.read_gold_notes`), table -> columns:
what a NER job declares as its ``data_access`` and what the site checks before staging data for one."""


def notes_to_examples(notes: Iterable[GoldNote], *, max_words: int = 96) -> list[NerExample]:
    """Turn gold notes into sentence-sized word-level BIO examples (notes without words are skipped)."""
    examples: list[NerExample] = []
    for _note_id, text, spans in notes:
        whole = spans_to_example(text, [CharSpan(int(s), int(e), str(label)) for s, e, label in spans])
        if whole.tokens:
            examples.extend(split_sentences(whole, max_words=max_words))
    return examples


def examples_from_cdm(engine: Any, *, max_words: int = 96) -> list[NerExample]:
    """Read every note with its gold spans from the CDM behind ``engine`` (a SQLAlchemy engine)."""
    from omop_etl.notes import read_gold_notes  # lazy: SQLAlchemy is only needed on this path

    return notes_to_examples(read_gold_notes(engine), max_words=max_words)
