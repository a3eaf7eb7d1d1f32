"""The privacy ledger: Opacus composition, reserve/commit/release, never exceeded under concurrency."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from opacus.accountants import PRVAccountant, RDPAccountant

from fednode.errors import BudgetExceededError
from policies.audit import AuditEvent
from policies.keys import SiteKey
from policies.ledger import ReservationStatus, compact, epsilon_of
from tests.policies.statekit import dp, make_site

DELTA = 1e-5


def test_epsilon_matches_opacus_accountants() -> None:
    history = [(1.1, 0.01, 800), (0.9, 0.02, 300)]
    rdp = RDPAccountant()
    rdp.history = list(history)
    prv = PRVAccountant()
    prv.history = list(history)
    assert epsilon_of(history, DELTA, "rdp") == pytest.approx(rdp.get_epsilon(DELTA))
    assert epsilon_of(history, DELTA, "prv") == pytest.approx(prv.get_epsilon(DELTA), rel=1e-6)
    assert epsilon_of(history, DELTA, "prv") < epsilon_of(history, DELTA, "rdp")  # PRV is the tighter bound
    assert epsilon_of([], DELTA) == 0.0
    assert epsilon_of([(0.0, 0.01, 10)], DELTA) == float("inf")


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.8, 1.0, 1.3]), st.sampled_from([0.005, 0.01, 0.02]), st.integers(1, 400)),
        min_size=1,
        max_size=6,
    )
)
def test_compaction_is_exact(history: list[tuple[float, float, int]]) -> None:
    acc = RDPAccountant()
    acc.history = list(history)
    assert epsilon_of(history, DELTA, "rdp") == pytest.approx(acc.get_epsilon(DELTA), rel=1e-9)
    assert sum(n for *_, n in compact(history)) == sum(n for *_, n in history)


def test_reserve_commit_release(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db")
    ledger = site.ledger
    one_job = ledger.planned_epsilon(dp())
    r = ledger.reserve("j1", "omop_notes", dp(), actor="dr.hansen")
    assert r.status is ReservationStatus.RESERVED
    assert r.reserved_epsilon == pytest.approx(one_job)
    assert ledger.summary("omop_notes").committed_total_epsilon == pytest.approx(one_job)
    assert ledger.epsilon_spent("omop_notes") == 0.0
    # the trainer takes half of its planned steps, over two rounds; the accountant continues across them
    ledger.record_steps("j1", "omop_notes", 1.0, 0.01, 250, actor="trainer")
    ledger.record_steps("j1", "omop_notes", 1.0, 0.01, 250, actor="trainer")
    assert ledger.accountant_history("omop_notes") == [(1.0, 0.01, 500)]
    # while it runs, the whole plan stays held (taken steps + the rest of the plan)
    assert ledger.summary("omop_notes").committed_total_epsilon == pytest.approx(one_job)
    done = ledger.commit("j1", actor="gate")
    assert done is not None and done.status is ReservationStatus.COMMITTED
    half = epsilon_of([(1.0, 0.01, 500)], DELTA, "rdp")
    assert done.spent_epsilon == pytest.approx(half)
    assert ledger.epsilon_spent("omop_notes") == pytest.approx(half)
    # a job that never ran gives everything back
    ledger.reserve("j2", "omop_notes", dp(), actor="dr.hansen")
    ledger.release("j2", actor="gate")
    assert ledger.summary("omop_notes").committed_total_epsilon == pytest.approx(half)
    events = [r.event for r in site.audit.records()]
    assert events.count(AuditEvent.BUDGET_RESERVED) == 2
    assert AuditEvent.BUDGET_COMMITTED in events and AuditEvent.BUDGET_RELEASED in events


def test_composition_not_addition(tmp_path: Path) -> None:
    ledger = make_site(tmp_path / "state.db").ledger
    a = ledger.reserve("j1", "omop_notes", dp(), actor="x")
    b = ledger.reserve("j2", "omop_notes", dp(), actor="x")
    # the second job's marginal cost under composition is below its stand-alone epsilon
    assert b.reserved_epsilon < a.reserved_epsilon
    assert ledger.summary("omop_notes").committed_total_epsilon == pytest.approx(
        epsilon_of([(1.0, 0.01, 2000)], DELTA, "rdp")
    )


def test_flat_reservation_without_step_plan(tmp_path: Path) -> None:
    ledger = make_site(tmp_path / "state.db").ledger
    r = ledger.reserve("j1", "omop_notes", dp(sample_rate=0.0, steps=0, target=1.5), actor="x")
    assert r.reserved_epsilon == pytest.approx(1.5)
    ledger.commit("j1", actor="gate", spent_epsilon=1.2)
    assert ledger.epsilon_spent("omop_notes") == pytest.approx(1.2)


def test_refused_when_exceeding_and_audited(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", budget=2.5)
    site.ledger.reserve("j1", "omop_notes", dp(), actor="x")  # ~2.1 with RDP; two jobs compose to ~2.9
    with pytest.raises(BudgetExceededError, match="would be exceeded"):
        site.ledger.reserve("j2", "omop_notes", dp(), actor="x")
    assert site.ledger.reservation("j2") is None
    refused = site.audit.records(events=[AuditEvent.BUDGET_REFUSED])
    assert len(refused) == 1 and refused[0].job_id == "j2"
    with pytest.raises(BudgetExceededError, match="no privacy budget"):
        site.ledger.reserve("j3", "other_dataset", dp(), actor="x")


def _site_key() -> SiteKey:
    """One site key for every writer: they all append to the same signed chain."""
    return SiteKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def _reserve_many(db: str, worker: int, n: int, results: list[int] | None = None) -> int:
    site = make_site(Path(db), budget=BUDGET, key=_site_key())
    ok = 0
    for i in range(n):
        try:
            site.ledger.reserve(f"w{worker}-{i}", "omop_notes", dp(steps=300), actor=f"worker-{worker}")
            ok += 1
        except BudgetExceededError:
            pass
    if results is not None:
        results.append(ok)
    return ok


def _reserve_in_process(db: str, worker: int, n: int) -> None:
    _reserve_many(db, worker, n)


BUDGET = 3.0


def test_concurrent_reservations_never_exceed(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    site = make_site(db, budget=BUDGET, key=_site_key())
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_reserve_in_process, args=(str(db), w, 4)) for w in range(2)]
    results: list[int] = []
    threads = [threading.Thread(target=_reserve_many, args=(str(db), w, 4, results)) for w in (2, 3)]
    for w in (*procs, *threads):
        w.start()
    for t in threads:
        t.join(180)
    for p in procs:
        p.join(240)
        assert p.exitcode == 0
    reserved = [r for r in site.ledger.reservations() if r.status is ReservationStatus.RESERVED]
    total = site.ledger.summary("omop_notes").committed_total_epsilon
    assert total <= BUDGET
    # the budget was actually used up: one more job of the same size no longer fits
    assert epsilon_of([(1.0, 0.01, 300 * (len(reserved) + 1))], DELTA, "rdp") > BUDGET
    assert len(reserved) >= 2
    assert site.audit.verify().records >= len(reserved)
