"""state.db engine: WAL, busy timeout, foreign keys, and writers that never interleave."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from policies.state import ApprovalRow, LedgerVersionRow, StateStore
from tests.policies.statekit import T0


def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = StateStore.for_path(tmp_path / "state.db")
    with store.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    store = StateStore.for_path(tmp_path / "state.db")
    with pytest.raises(SAIntegrityError), store.write() as s:
        s.add(ApprovalRow(job_id="nope", approver="a", decision="approve", reason="r", digest="d", at=T0))


def test_write_rolls_back_on_error(tmp_path: Path) -> None:
    store = StateStore.for_path(tmp_path / "state.db")
    with pytest.raises(RuntimeError), store.write() as s:
        s.add(LedgerVersionRow(dataset="d", version=1))
        s.flush()
        raise RuntimeError("boom")
    with store.read() as s:
        assert s.get(LedgerVersionRow, "d") is None


def _increment(store: StateStore, n: int) -> None:
    for _ in range(n):
        with store.write() as s:
            row = s.get(LedgerVersionRow, "counter")
            assert row is not None
            value = row.version
            row.version = value + 1  # read-modify-write: loses updates unless writers are serialised


def _increment_in_process(path: str, n: int) -> None:
    _increment(StateStore(f"sqlite:///{path}"), n)


def test_writers_are_serialised_across_threads_and_processes(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = StateStore.for_path(db)
    with store.write() as s:
        s.add(LedgerVersionRow(dataset="counter", version=0))
    threads = [threading.Thread(target=_increment, args=(store, 25)) for _ in range(3)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_increment_in_process, args=(str(db), 25)) for _ in range(2)]
    for t in (*threads, *procs):
        t.start()
    for t in threads:
        t.join(60)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with store.read() as s:
        row = s.get(LedgerVersionRow, "counter")
        assert row is not None
        assert row.version == 5 * 25


def test_create_all_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    StateStore.for_path(db)
    store = StateStore.for_path(db)  # a second process opening an existing database
    store.create_all()
    with store.read() as s:
        names = {r[0] for r in s.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    assert {"job", "approval", "audit_record", "audit_checkpoint", "budget_reservation", "accountant_step"} <= names
