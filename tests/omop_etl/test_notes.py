"""NOTE/NOTE_NLP loader: the contract other packages rely on (upsert key, gold spans, quarantine)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from omop_etl.cdm import Concept, Death, Note, NoteNlp, Person, create_cdm
from omop_etl.db import make_engine
from omop_etl.notes import DeidentifiedNote, load_notes, read_gold_notes
from omop_etl.quarantine import quarantine_table

PERSON = {
    "person_id": 7,
    "gender_concept_id": 8532,
    "year_of_birth": 1970,
    "race_concept_id": 0,
    "ethnicity_concept_id": 0,
    "person_source_value": "p-1",
}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path / 'omop.db'}")
    create_cdm(eng)
    with eng.begin() as conn:
        conn.execute(insert(Person), [PERSON])
    return eng


TEXT = "Patient [NAME] has cystic fibrosis and asthma."


def _note(**kw: object) -> DeidentifiedNote:
    base: dict[str, object] = {
        "note_id": "n-1",
        "person_source_value": "p-1",
        "note_date": date(2023, 1, 2),
        "title": "Discharge",
        "text": TEXT,
        "lang": "en",
        "spans": ((19, 34, "Disease"), (39, 45, "Disease")),
    }
    base.update(kw)
    return DeidentifiedNote(**base)  # type: ignore[arg-type]


def test_load_writes_note_and_gold_rows_by_convention(engine: Engine) -> None:
    report = load_notes(engine, [_note()])
    assert (report.inserted, report.nlp_rows, report.quarantined) == (1, 2, {})
    with engine.connect() as conn:
        note = conn.execute(select(Note)).one()
        assert (note.person_id, note.note_source_value, note.note_text) == (7, "n-1", TEXT)
        assert note.language_concept_id == 0  # no vocabulary loaded: no dangling concept id
        rows = conn.execute(select(NoteNlp).order_by(NoteNlp.note_nlp_id)).all()
    assert [(r.offset, r.lexical_variant, r.term_modifiers, r.nlp_system) for r in rows] == [
        ("19", "cystic fibrosis", "label=Disease", "gold"),
        ("39", "asthma", "label=Disease", "gold"),
    ]
    assert all(r.note_id == note.note_id and r.note_nlp_concept_id == 0 for r in rows)


def test_reload_is_idempotent_and_update_replaces_spans(engine: Engine) -> None:
    load_notes(engine, [_note()])
    again = load_notes(engine, [_note()])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    changed = load_notes(engine, [_note(spans=((39, 45, "Disease"),))])
    assert (changed.inserted, changed.updated) == (0, 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Note)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(NoteNlp)).scalar() == 1
    [(note_id, text, spans)] = list(read_gold_notes(engine))
    assert text == TEXT and spans == ((39, 45, "Disease"),)
    assert text[39:45] == "asthma" and note_id >= 1


def test_unknown_person_and_bad_span_are_quarantined_not_loaded(engine: Engine) -> None:
    report = load_notes(
        engine,
        [
            _note(note_id="n-2", person_source_value="nobody"),
            _note(note_id="n-3", spans=((40, 99, "Disease"),)),
            _note(),
        ],
    )
    assert report.inserted == 1
    assert report.quarantined == {"span_out_of_range": 1, "unknown_person": 1}
    with engine.connect() as conn:
        reasons = sorted(conn.execute(select(quarantine_table.c.reason, quarantine_table.c.source_key)).all())
    assert reasons == [("span_out_of_range", "n-3"), ("unknown_person", "n-2")]


def test_read_gold_notes_yields_notes_without_spans_too(engine: Engine) -> None:
    load_notes(engine, [_note(spans=()), _note(note_id="n-9")])
    got = list(read_gold_notes(engine))
    assert [len(spans) for _, _, spans in got] == [0, 2]


def test_language_and_encoding_concepts_come_from_the_vocabulary(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Concept),
            [
                {
                    "concept_id": cid,
                    "concept_name": name,
                    "domain_id": "Language" if cid == 4180186 else "Metadata",
                    "vocabulary_id": "SNOMED" if cid == 4180186 else "Metadata",
                    "concept_class_id": "Qualifier Value",
                    "concept_code": str(cid),
                    "valid_start_date": date(1970, 1, 1),
                    "valid_end_date": date(2099, 12, 31),
                }
                for cid, name in ((4180186, "English language"), (32678, "UTF-8"))
            ],
        )
    load_notes(engine, [_note()])
    with engine.connect() as conn:
        note = conn.execute(select(Note)).one()
    assert (note.language_concept_id, note.encoding_concept_id) == (4180186, 32678)


def test_note_shifted_out_of_the_life_is_dated_on_its_bound_and_counted(engine: Engine) -> None:
    """The date shift moves a note up to a year either way: one before the birth, after the death or in the future
    would fail DQD's plausibility checks, so it is dated on that bound and the load says how many."""
    with engine.begin() as conn:
        conn.execute(insert(Person), [{**PERSON, "person_id": 8, "person_source_value": "p-2"}])
        conn.execute(insert(Death), [{"person_id": 8, "death_date": date(2020, 5, 1), "death_type_concept_id": 0}])
    future = date.today() + timedelta(days=200)
    notes = [
        _note(note_id="early", note_date=date(1969, 6, 1)),
        _note(note_id="later", note_date=date(1970, 1, 2)),
        _note(note_id="future", note_date=future),
        _note(note_id="dead", person_source_value="p-2", note_date=date(2020, 9, 1)),
        _note(note_id="alive", person_source_value="p-2", note_date=date(2020, 4, 1)),
    ]
    report = load_notes(engine, notes)
    assert (report.inserted, report.dates_clamped) == (5, 3)
    assert report.to_dict()["dates_clamped"] == 3
    with engine.connect() as conn:
        dates = dict(conn.execute(select(Note.note_source_value, Note.note_date)).all())
    assert dates["early"] == date(1970, 1, 1) and dates["later"] == date(1970, 1, 2)
    assert date.today() - timedelta(days=1) <= dates["future"] <= date.today() + timedelta(days=1)
    assert (dates["dead"], dates["alive"]) == (date(2020, 5, 1), date(2020, 4, 1))
    again = load_notes(engine, [_note(note_id="early", note_date=date(1969, 6, 1))])
    assert (again.unchanged, again.updated) == (1, 0)  # the same clamp: nothing to update
