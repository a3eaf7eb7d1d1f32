"""Synthea -> CDM: conventions, idempotency, change handling, malformed files and quarantined rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from fednode.errors import EtlInputError
from omop_etl.cdm import ConditionOccurrence, DrugExposure, Measurement, Person, VisitOccurrence
from omop_etl.db import make_engine
from omop_etl.quarantine import quarantine_table
from omop_etl.stats import row_counts
from omop_etl.synthea.run import LOAD_ORDER, run_etl
from tests.omop_etl.helpers import SYNTHEA, VOCAB, copy_sample, dump, edit_csv


def _engine(tmp_path: Path, name: str = "omop.db") -> Engine:
    return make_engine(f"sqlite:///{tmp_path / name}")


def test_sample_fills_every_table_with_etl_synthea_conventions(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    report = run_etl(engine, SYNTHEA, vocab_dir=VOCAB, quarantine_dir=tmp_path / "q")
    assert all(report.rows[name] > 0 for name in LOAD_ORDER), report.rows
    assert report.rows["person"] == 27 and report.rows["visit_occurrence"] == 604
    assert report.quarantined_total == 0
    # vaccines are CVX, which the bundled subset lacks: concept 0, source value kept, counted as unmapped
    assert report.unmapped["drug_exposure"]["codes"]["CVX:140"] == 24
    with engine.connect() as conn:
        vaccine = conn.execute(select(DrugExposure).where(DrugExposure.drug_source_value == "140")).first()
        assert vaccine is not None and vaccine.drug_concept_id == 0 and vaccine.drug_source_concept_id == 0
        # a mapped SNOMED condition: source concept + Maps-to standard concept + EHR type concept
        pharyngitis = conn.execute(
            select(ConditionOccurrence).where(ConditionOccurrence.condition_source_value == "195662009")
        ).first()
        assert pharyngitis is not None
        assert pharyngitis.condition_concept_id == 4112343 and pharyngitis.condition_type_concept_id == 32817
        assert pharyngitis.visit_occurrence_id is not None
        person = conn.execute(
            select(Person).where(Person.person_source_value == "3edac2e3-d223-6fae-d515-daf96ef6bc76")
        ).one()
        assert (person.gender_concept_id, person.year_of_birth, person.race_concept_id) == (8507, 2014, 8527)
        height = conn.execute(
            select(Measurement).where(Measurement.measurement_source_value == "8302-2").limit(1)
        ).one()
        assert height.value_as_number is not None and height.unit_source_value == "cm" and height.unit_concept_id
        assert (
            conn.execute(
                select(func.count()).select_from(VisitOccurrence).where(VisitOccurrence.visit_concept_id == 0)
            ).scalar()
            == 0
        )
    assert (tmp_path / "q" / "etl-latest.csv").is_file()
    counts = row_counts(engine)
    assert len(counts) == 39 and counts["person"] == 27 and counts["note"] == 0


def test_rerun_changes_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    run_etl(engine, SYNTHEA, vocab_dir=VOCAB)
    before = dump(engine)
    again = run_etl(engine, SYNTHEA, vocab_dir=VOCAB)
    assert again.changed_total == 0
    assert dump(engine) == before


def test_changed_extract_updates_only_what_changed(tmp_path: Path) -> None:
    source = copy_sample(tmp_path / "src")
    engine = _engine(tmp_path)
    run_etl(engine, source, vocab_dir=VOCAB)
    asian = select(func.count()).select_from(Person).where(Person.race_concept_id == 8515)
    with engine.connect() as conn:
        ids_before = dict(conn.execute(select(Person.person_source_value, Person.person_id)).all())
        asian_before = conn.execute(asian).scalar()
    # one patient's race changes; one condition row disappears
    edit_csv(source / "patients.csv", lambda ls: [ls[0], ls[1].replace(",white,", ",asian,", 1), *ls[2:]])
    edit_csv(source / "conditions.csv", lambda ls: [ls[0], *ls[2:]])
    report = run_etl(engine, source)
    assert report.changes["person"] == {"inserted": 0, "updated": 1, "deleted": 0, "unchanged": 26}
    assert report.changes["condition_occurrence"]["deleted"] == 1
    assert report.changes["visit_occurrence"]["unchanged"] == 604
    with engine.connect() as conn:
        assert dict(conn.execute(select(Person.person_source_value, Person.person_id)).all()) == ids_before
        assert conn.execute(asian).scalar() == asian_before + 1


def _malformed(kind: str, source: Path) -> tuple[str, str]:
    """Break one file; returns (file, expected fragment of the message)."""
    if kind == "missing_column":
        edit_csv(source / "conditions.csv", lambda ls: [ls[0].replace("CODE", "KODE"), *ls[1:]])
        return "conditions.csv", "field 'CODE'"
    if kind == "wrong_delimiter":
        edit_csv(source / "devices.csv", lambda ls: [line.replace(",", ";") for line in ls])
        return "devices.csv", "delimiter"
    if kind == "truncated_line":
        edit_csv(source / "medications.csv", lambda ls: [*ls[:40], ls[40][:30], *ls[41:]])
        return "medications.csv:41", "expected 13 fields"
    if kind == "invalid_encoding":
        path = source / "procedures.csv"
        data = path.read_bytes().split(b"\n")
        data[7] = data[7][:20] + b"\xff\xfe" + data[7][20:]
        path.write_bytes(b"\n".join(data))
        return "procedures.csv:8", "invalid UTF-8"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing_column", "wrong_delimiter", "truncated_line", "invalid_encoding"])
def test_malformed_file_stops_the_run_and_leaves_the_database_as_it_was(tmp_path: Path, kind: str) -> None:
    source = copy_sample(tmp_path / "src")
    engine = _engine(tmp_path)
    run_etl(engine, source, vocab_dir=VOCAB)
    before = dump(engine)
    where, fragment = _malformed(kind, source)
    with pytest.raises(EtlInputError) as caught:
        run_etl(engine, source, vocab_dir=VOCAB)
    assert where in caught.value.message and fragment in caught.value.message
    assert caught.value.exit_code == 4
    assert dump(engine) == before


def test_malformed_file_on_a_new_database_creates_nothing(tmp_path: Path) -> None:
    source = copy_sample(tmp_path / "src")
    _malformed("truncated_line", source)
    engine = _engine(tmp_path)
    with pytest.raises(EtlInputError):
        run_etl(engine, source, vocab_dir=VOCAB)
    assert dump(engine) == {}


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_load(tmp_path: Path) -> None:
    source = copy_sample(tmp_path / "src")
    patient = "3edac2e3-d223-6fae-d515-daf96ef6bc76"

    def conditions(ls: list[str]) -> list[str]:
        i, j = [k for k, line in enumerate(ls) if k and patient not in line][:2]
        fields = ls[i].split(",")
        fields[0] = "2023-13-45"
        ls[i] = ",".join(fields)
        ls[j] = ls[j].replace(ls[j].split(",")[2], "no-such-patient")
        return ls

    def observations(ls: list[str]) -> list[str]:
        k = next(k for k, line in enumerate(ls) if k and patient not in line and line.endswith(",numeric"))
        fields = ls[k].split(",")
        fields[6] = "tall"
        ls[k] = ",".join(fields)
        return ls

    def patients(ls: list[str]) -> list[str]:
        twin = next(line for line in ls if line.startswith(patient)).replace(",M,", ",F,")
        return [*ls, twin]

    edit_csv(source / "conditions.csv", conditions)
    edit_csv(source / "observations.csv", observations)
    edit_csv(source / "patients.csv", patients)
    engine = _engine(tmp_path)
    report = run_etl(engine, source, vocab_dir=VOCAB)
    assert report.quarantined["condition_occurrence"]["invalid_date"] == 1
    assert report.quarantined["condition_occurrence"]["unknown_patient"] >= 1
    assert report.quarantined["measurement"]["non_numeric_value"] == 1
    assert report.quarantined["person"] == {"duplicate_id_conflict": 2}
    assert report.rows["person"] == 26  # the conflicting patient is held back, everyone else loads
    with engine.connect() as conn:
        stored = conn.execute(select(quarantine_table.c.reason, quarantine_table.c.source_file)).all()
    assert ("invalid_date", "conditions.csv") in stored and ("duplicate_id_conflict", "patients.csv") in stored
    assert report.rows["condition_occurrence"] > 100


def test_bom_and_crlf_are_valid_input(tmp_path: Path) -> None:
    source = copy_sample(tmp_path / "src")
    for path in source.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    plain, dos = _engine(tmp_path, "plain.db"), _engine(tmp_path, "dos.db")
    a = run_etl(plain, SYNTHEA, vocab_dir=VOCAB)
    b = run_etl(dos, source, vocab_dir=VOCAB)
    assert a.rows == b.rows and b.quarantined_total == 0
    strip = lambda d: {k: v for k, v in d.items() if k not in ("cdm_source", "fednode_quarantine")}  # noqa: E731
    assert strip(dump(plain)) == strip(dump(dos))
