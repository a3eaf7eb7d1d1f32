"""The data-quality gate: DQD checks on the bundled sample, planted violations, accepted failures."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update

from fednode.bundled import bundled
from fednode.errors import EtlInputError
from omop_etl.cdm import ConditionOccurrence, Person, create_cdm
from omop_etl.db import make_engine
from omop_etl.dq.accept import apply_accepted, read_accepted
from omop_etl.dq.checks import run_dq
from omop_etl.dq.spec import load_spec
from omop_etl.synthea.eras import merge
from omop_etl.synthea.run import run_etl
from tests.omop_etl.helpers import REPO, SYNTHEA, VOCAB

SPEC = load_spec(bundled("omop-spec", "dqd"))
ACCEPTED = REPO / "omop_etl" / "dq" / "accepted_bundled_sample.txt"


@pytest.fixture
def sample(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'omop.db'}")
    run_etl(engine, SYNTHEA, vocab_dir=VOCAB)
    return engine


def test_bundled_sample_fails_only_the_explained_checks(sample: Engine) -> None:
    report = run_dq(sample, SPEC)
    checks = {r.check for r in report.results if r.status != "not_applicable"} | {"plausibleGender"}
    expected = {
        "cdmTable", "cdmField", "isRequired", "cdmDatatype", "isPrimaryKey", "isForeignKey", "fkDomain", "fkClass",
        "isStandardValidConcept", "measureValueCompleteness", "standardConceptRecordCompleteness",
        "sourceValueCompleteness", "plausibleValueLow", "plausibleValueHigh", "plausibleTemporalAfter",
        "plausibleDuringLife", "withinVisitDates", "plausibleGender", "measurePersonCompleteness",
    }  # fmt: skip
    assert expected <= checks
    accepted = read_accepted(ACCEPTED)
    gated = apply_accepted(report, accepted)
    assert gated.passed, [(r.check, r.table, r.field, r.concept_id) for r in gated.failed]
    assert len(report.failed) == gated.summary()["accepted"] == len(accepted)


def test_planted_violations_fail_their_checks(sample: Engine) -> None:
    with sample.begin() as conn:
        conn.execute(update(Person).where(Person.person_id == 1).values(year_of_birth=1700))
        conn.execute(
            update(ConditionOccurrence)
            .where(ConditionOccurrence.condition_occurrence_id <= 3)
            .values(condition_start_date=date(1800, 1, 1))
        )
        female = select(Person.person_id).where(Person.gender_concept_id == 8532).limit(1).scalar_subquery()
        conn.execute(
            update(ConditionOccurrence)
            .where(ConditionOccurrence.person_id == female)
            .values(condition_concept_id=26662)  # testicular hypofunction: DQD's plausibleGender says Male
        )
    report = apply_accepted(run_dq(sample, SPEC), read_accepted(ACCEPTED))
    failed = {(r.check, r.table, r.field) for r in report.failed}
    assert ("plausibleGender", "condition_occurrence", "condition_concept_id") in failed
    assert ("plausibleValueLow", "person", "year_of_birth") in failed
    assert ("plausibleTemporalAfter", "condition_occurrence", "condition_start_date") in failed
    assert not report.passed


def test_accept_file_needs_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "accept.txt"
    bad.write_text("isRequired person.person_id\n")
    with pytest.raises(EtlInputError, match=r"accept\.txt:1"):
        read_accepted(bad)


def test_era_merge_joins_gaps_up_to_30_days() -> None:
    d = date.fromisoformat
    eras = merge(
        [(d("2020-01-01"), d("2020-01-10")), (d("2020-02-05"), d("2020-02-06")), (d("2020-04-01"), d("2020-04-01"))]
    )
    assert eras == [(d("2020-01-01"), d("2020-02-06"), 2, 26), (d("2020-04-01"), d("2020-04-01"), 1, 0)]


@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 60)).map(
            lambda p: (date(2020, 1, 1) + timedelta(days=p[0]), date(2020, 1, 1) + timedelta(days=p[0] + p[1]))
        ),
        min_size=1,
        max_size=30,
    )
)
def test_eras_cover_every_interval_and_are_separated_by_more_than_30_days(intervals: list[tuple[date, date]]) -> None:
    eras = merge(intervals)
    assert sum(count for _, _, count, _ in eras) == len(intervals)
    for (_, end, _, _), (start, _, _, _) in pairwise(eras):
        assert (start - end).days > 30
    for s, e in intervals:
        assert any(a <= s and e <= b for a, b, _, _ in eras)
    assert all(0 <= gap <= (b - a).days for a, b, _, gap in eras)


def test_a_cdm_without_data_fails_the_gate_and_cannot_be_accepted(tmp_path: Path) -> None:
    """DQD's checks are all not_applicable on empty tables; fednode's tableNotEmpty makes an empty CDM fail."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    create_cdm(engine)
    report = run_dq(engine, SPEC)
    empty = {r.table for r in report.failed if r.check == "tableNotEmpty"}
    assert empty == {"person", "observation_period", "concept", "vocabulary"}
    assert all(r.note.endswith("load data with fednode etl") for r in report.failed if r.check == "tableNotEmpty")
    accept_all = {("tableNotEmpty", name, None, None): "we know" for name in empty}
    assert not apply_accepted(report, accept_all).passed


def test_accept_file_that_is_missing_or_binary_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(EtlInputError, match=r"accept\.txt: accepted-failures file does not exist"):
        read_accepted(tmp_path / "accept.txt")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"isRequired person  # fine\n\x00\x01\x02\n")
    with pytest.raises(EtlInputError, match=r"binary\.txt:2: not a text file"):
        read_accepted(binary)
