"""The same services on PostgreSQL: advisory-lock-serialised writers keep the audit chain linear and the
budget unexceeded."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from fednode.errors import BudgetExceededError
from policies.audit import AuditEvent, AuditLog
from policies.contracts import JobState
from policies.keys import SiteKey
from policies.ledger import PrivacyLedger
from policies.registry import ApprovalRules, JobService
from policies.state import StateStore
from tests.pg import postgres_server
from tests.policies.statekit import ALLOW, DIGEST_A, dp, manifest

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def store(pg_url: str) -> Iterator[StateStore]:
    store = StateStore(pg_url)
    yield store
    with store.engine.begin() as conn:
        for table in (
            "audit_checkpoint",
            "audit_record",
            "approval",
            "totp_use",
            "job_round",
            "egress",
            "budget_reservation",
            "accountant_step",
            "ledger_version",
            "job",
        ):
            conn.execute(text(f"DELETE FROM {table}"))  # fixed table names
    store.dispose()


def test_registry_and_audit_on_postgres(store: StateStore) -> None:
    key = SiteKey.generate()
    audit = AuditLog(store, key, checkpoint_every=3)
    ledger = PrivacyLedger(store, audit, budgets={"omop_notes": 8.0}, delta=1e-5, accountant="rdp")
    jobs = JobService(
        store, audit, ledger, rules=ApprovalRules(approvers=("a", "b"), required_approvals=2, identity="name")
    )
    jobs.register_pending(manifest(dp=dp()), ALLOW)
    jobs.approve("job-1", "a", "ok")
    assert jobs.approve("job-1", "b", "ok").state is JobState.APPROVED
    assert jobs.is_approved("job-1", DIGEST_A)
    assert audit.verify().records == 4


def test_concurrent_appends_and_reservations_on_postgres(store: StateStore) -> None:
    key = SiteKey.generate()
    audit = AuditLog(store, key, checkpoint_every=7)
    ledger = PrivacyLedger(store, audit, budgets={"omop_notes": 3.0}, delta=1e-5, accountant="rdp")

    def work(w: int) -> None:
        for i in range(15):
            audit.append(AuditEvent.JOB_ROUND, actor=f"w{w}", details={"i": i})
            with contextlib.suppress(BudgetExceededError):
                ledger.reserve(f"w{w}-{i}", "omop_notes", dp(steps=300), actor=f"w{w}")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert audit.verify().records >= 45
    assert ledger.summary("omop_notes").committed_total_epsilon <= 3.0
