"""Build a :class:`~policies.verdicts.SiteState` from the live site: policy file, clock, ledger, CDM.

The gate gets its verdict function from :func:`evaluator_for` (``policies.verdicts.evaluator_for`` forwards
here). Each verdict reads the current state: the policy is reloaded when its file changes, the remaining budget
comes from the privacy ledger, the local record count from the CDM. Anything that cannot be read counts as
unknown, and unknown denies (``privacy_budget``) or counts as zero (``local_records``): the site fails closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fednode.settings import Settings
from policies.contracts import JobManifest, Verdict
from policies.policy_model import SitePolicy, load_policy
from policies.verdicts import SiteState, evaluate

log = logging.getLogger("fednode.policies.site_state")

BudgetSource = Callable[[str], float | None]
"""Remaining epsilon of a dataset, or None when it cannot be known."""
RecordSource = Callable[[], int]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PolicyFile:
    """The site policy, reloaded when the file's size or modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._policy: SitePolicy | None = None
        self._lock = threading.Lock()

    def get(self) -> SitePolicy:
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._policy is None or stamp != self._stamp:
                self._policy = load_policy(self.path)
                self._stamp = stamp
                log.info("policy.loaded path=%s", self.path.name)
            return self._policy


def cdm_note_count(omop_url: str) -> RecordSource:
    """Count NOTE rows in the site's CDM (the built-in trainer's training records); 0 if unreadable."""

    def count() -> int:
        from sqlalchemy import create_engine, make_url, text
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        try:
            url = make_url(omop_url)
        except ArgumentError:
            log.warning("policy.records_unknown reason=bad_url")
            return 0
        if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).is_file()):
            return 0  # never create an empty CDM file just to count it
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT COUNT(*) FROM note")).scalar_one())
        except SQLAlchemyError as exc:
            log.warning("policy.records_unknown reason=%s", type(exc).__name__)
            return 0
        finally:
            engine.dispose()

    return count


def ledger_budget(settings: Settings, policy_file: PolicyFile) -> BudgetSource:
    """Remaining epsilon from the privacy ledger in state.db (reopened when the policy's budgets change)."""
    lock = threading.Lock()
    opened: dict[str, Any] = {}

    def remaining(dataset: str) -> float | None:
        from fednode.errors import FednodeError
        from policies.services import open_site_services

        try:
            policy = policy_file.get()
            key = policy.privacy.model_dump_json()
            with lock:
                if opened.get("key") != key:
                    if "services" in opened:
                        opened["services"].close()
                    opened["services"] = open_site_services(settings, policy)
                    opened["key"] = key
                services = opened["services"]
            return float(services.ledger.summary(dataset).remaining_epsilon)
        except FednodeError as exc:
            log.warning("policy.budget_unknown dataset=%s reason=%s", dataset, type(exc).__name__)
            return None

    return remaining


def evaluator_for(
    settings: Settings,
    *,
    clock: Clock = _utc_now,
    budget: BudgetSource | None = None,
    records: RecordSource | None = None,
    coordinator: str | None = None,
) -> Callable[[JobManifest], Verdict]:
    """The site's verdict function: each call judges a manifest against the current state."""
    policy_file = PolicyFile(settings.policy_path)
    budget_source = budget or ledger_budget(settings, policy_file)
    record_source = records or cdm_note_count(settings.omop_db_url)

    def judge(job: JobManifest) -> Verdict:
        policy = policy_file.get()
        remaining = budget_source(job.dataset)
        state = SiteState(
            policy=policy,
            now=clock(),
            budget_remaining={} if remaining is None else {job.dataset: remaining},
            local_records=record_source(),
            coordinator=coordinator,
        )
        return evaluate(job, state)

    return judge
