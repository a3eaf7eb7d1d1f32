"""The same ETL, notes loader and DQ gate against a real PostgreSQL server (started by tests/pg.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from fednode.bundled import bundled
from fednode.errors import EtlInputError
from omop_etl.db import make_engine
from omop_etl.dq.accept import apply_accepted, read_accepted
from omop_etl.dq.checks import run_dq
from omop_etl.dq.spec import load_spec
from omop_etl.notes import DeidentifiedNote, load_notes, read_gold_notes
from omop_etl.synthea.run import run_etl
from tests.omop_etl.helpers import REPO, SYNTHEA, VOCAB, copy_sample, dump, edit_csv

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    yield engine
    engine.dispose()


def test_etl_is_idempotent_and_atomic_on_postgres(pg: Engine, tmp_path: Path) -> None:
    first = run_etl(pg, SYNTHEA, vocab_dir=VOCAB)
    assert first.rows["person"] == 27 and first.rows["measurement"] == 620
    before = dump(pg)
    assert run_etl(pg, SYNTHEA, vocab_dir=VOCAB).changed_total == 0
    assert dump(pg) == before
    source = copy_sample(tmp_path / "src")
    edit_csv(source / "observations.csv", lambda ls: [*ls[:5], ls[5][:12], *ls[6:]])
    with pytest.raises(EtlInputError, match=r"observations\.csv:6"):
        run_etl(pg, source, vocab_dir=VOCAB)
    assert dump(pg) == before


def test_notes_and_dq_on_postgres(pg: Engine) -> None:
    run_etl(pg, SYNTHEA, vocab_dir=VOCAB)
    note = DeidentifiedNote(
        note_id="n1",
        person_source_value="3edac2e3-d223-6fae-d515-daf96ef6bc76",
        note_date=date(2023, 1, 27),
        title="Visit",
        text="Acute viral pharyngitis noted.",
        spans=((0, 23, "Disease"),),
    )
    assert load_notes(pg, [note]).inserted == 1
    assert [spans for _, _, spans in read_gold_notes(pg)] == [((0, 23, "Disease"),)]
    report = run_dq(pg, load_spec(bundled("omop-spec", "dqd")))
    gated = apply_accepted(report, read_accepted(REPO / "omop_etl" / "dq" / "accepted_bundled_sample.txt"))
    assert gated.passed, [(r.check, r.table, r.field, r.pct_violated) for r in gated.failed]
