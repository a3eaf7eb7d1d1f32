"""Training examples from a real CDM: NOTE text + NOTE_NLP gold spans, written by omop_etl, read back as BIO."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import insert

from node.ml.ner import examples_from_cdm, notes_to_examples, read_conll
from omop_etl.cdm import Person, create_cdm
from omop_etl.db import make_engine
from omop_etl.notes import DeidentifiedNote, load_notes
from tests.node.ner_support import MINI


def _note_from(tokens: tuple[str, ...], tags: tuple[str, ...], i: int) -> DeidentifiedNote:
    """Join the words with spaces and turn B-/I- runs into character spans, as the demo's notes carry them."""
    text = " ".join(tokens)
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for tok, tag in zip(tokens, tags, strict=True):
        if tag.startswith("B-"):
            spans.append((pos, pos + len(tok), tag[2:]))
        elif tag.startswith("I-"):
            start, _, label = spans[-1]
            spans[-1] = (start, pos + len(tok), label)
        pos += len(tok) + 1
    return DeidentifiedNote(f"n-{i}", "p-1", date(2024, 1, 1), "Discharge", text, "en", tuple(spans))


def test_notes_in_the_cdm_become_the_same_bio_examples(tmp_path: Path) -> None:
    source = read_conll(MINI / "train.tsv", limit=25)
    engine = make_engine(f"sqlite:///{tmp_path / 'omop.db'}")
    create_cdm(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [
                {
                    "person_id": 1,
                    "gender_concept_id": 0,
                    "year_of_birth": 1970,
                    "race_concept_id": 0,
                    "ethnicity_concept_id": 0,
                    "person_source_value": "p-1",
                }
            ],
        )
    report = load_notes(engine, [_note_from(ex.tokens, ex.tags, i) for i, ex in enumerate(source)])
    assert report.loaded == 25
    examples = examples_from_cdm(engine)
    assert len(examples) >= len(source)  # a note may be cut at sentence ends, never inside a mention
    assert all(not e.tags[0].startswith("I-") for e in examples)
    # notes come back in note_id order, chunks in text order: the words and tags are exactly the source's
    assert [t for e in examples for t in e.tokens] == [t for e in source for t in e.tokens]
    assert [t for e in examples for t in e.tags] == [t for e in source for t in e.tags]


def test_a_long_note_is_split_and_other_labels_are_ignored() -> None:
    text = "Pain. " * 70 + "Breast cancer was found in Oslo."
    start = text.index("Breast")
    city = text.index("Oslo")
    notes = [(1, text, ((start, start + len("Breast cancer"), "Disease"), (city, city + 4, "LOCATION")))]
    examples = notes_to_examples(notes, max_words=96)
    assert len(examples) == 71
    last = examples[-1]
    assert last.tokens[:2] == ("Breast", "cancer") and last.tags[:2] == ("B-Disease", "I-Disease")
    assert set(last.tags[2:]) == {"O"}
