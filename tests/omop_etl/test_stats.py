"""Numbers about a CDM: the local record count the site policy is judged on, and the vocabulary probe."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import insert

from omop_etl.cdm import Concept, create_cdm
from omop_etl.cdm.clinical import Person
from omop_etl.db import make_engine
from omop_etl.notes import DeidentifiedNote, load_notes
from omop_etl.stats import annotated_note_count, has_vocabulary, local_record_count


def _note(note_id: str, text: str, spans: tuple[tuple[int, int, str], ...]) -> DeidentifiedNote:
    return DeidentifiedNote(note_id, "p-1", date(2024, 1, 1), "Discharge", text, "en", spans)


def _cdm(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    create_cdm(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [{"person_id": 1, "gender_concept_id": 0, "year_of_birth": 1970, "race_concept_id": 0,
              "ethnicity_concept_id": 0, "person_source_value": "p-1"}],
        )  # fmt: skip
    load_notes(
        engine,
        [
            _note("n-1", "Fever and cough.", ((0, 5, "Disease"), (10, 15, "Disease"))),  # two spans, one record
            _note("n-2", "Asthma.", ((0, 6, "Disease"),)),
            _note("n-3", "Nothing to see.", ()),  # a note without gold spans trains nothing
        ],
    )
    engine.dispose()
    return url


def test_local_records_are_distinct_annotated_notes(tmp_path: Path) -> None:
    url = _cdm(tmp_path / "omop.db")
    engine = make_engine(url)
    try:
        assert annotated_note_count(engine) == 2
    finally:
        engine.dispose()
    assert local_record_count(url) == 2


def test_no_cdm_counts_zero_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "absent.db"
    assert local_record_count(f"sqlite:///{missing}") == 0 and not missing.exists()
    (tmp_path / "empty.db").write_bytes(b"")
    assert local_record_count(f"sqlite:///{tmp_path / 'empty.db'}") == 0  # no NOTE_NLP table: unreadable, zero
    assert local_record_count("not a url") == 0


def test_vocabulary_probe(tmp_path: Path) -> None:
    assert has_vocabulary(f"sqlite:///{tmp_path / 'fresh.db'}") is False  # no concept table
    url = _cdm(tmp_path / "omop.db")
    assert has_vocabulary(url) is False  # the CDM's own concept 0 is no vocabulary
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(Concept),
            [{"concept_id": 320128, "concept_name": "Essential hypertension", "domain_id": "Condition",
              "vocabulary_id": "SNOMED", "concept_class_id": "Clinical Finding", "concept_code": "59621000",
              "valid_start_date": date(1970, 1, 1), "valid_end_date": date(2099, 12, 31)}],
        )  # fmt: skip
    engine.dispose()
    assert has_vocabulary(url) is True
