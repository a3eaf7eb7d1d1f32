"""Reading the registry: one job, the job list, the last approved job of a study, the gate's ``is_approved``,
a job's rounds and egress decisions, and a cheap revision number to poll."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import func, select

from fednode.errors import NotFoundError
from policies.contracts import EgressDecision, JobRecord, JobState, RoundReport
from policies.registry.base import RegistryBase
from policies.state import AuditRow, EgressRow, JobRow, RoundRow
from policies.totp import normalise_name

APPROVED_ONCE = (JobState.APPROVED, JobState.RUNNING, JobState.FINISHED, JobState.FAILED)
"""States a job reaches only after its approvals: ``last_approved`` looks among these."""


class JobQueries(RegistryBase):
    """The read-only questions the gate, the CLI and the dashboard ask."""

    def get(self, job_id: str) -> JobRecord:
        """The job, or :class:`NotFoundError`."""
        with self._store.read() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFoundError(f"job {job_id} is not known at this site")
            return self._record(s, row)

    def list_jobs(self, states: Iterable[JobState] | None = None) -> list[JobRecord]:
        """Jobs, newest first, optionally only in ``states``."""
        q = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.job_id)
        if states is not None:
            q = q.where(JobRow.state.in_([JobState(x).value for x in states]))
        with self._store.read() as s:
            return [self._record(s, r) for r in s.scalars(q)]

    def last_approved(self, study: str, *, before: str | None = None) -> JobRecord | None:
        """The most recently approved job of ``study`` (other than ``before``): the dashboard diffs against it."""
        q = (
            select(JobRow)
            .where(JobRow.study == study, JobRow.approved_at.is_not(None))
            .where(JobRow.state.in_([x.value for x in APPROVED_ONCE]))
            .order_by(JobRow.approved_at.desc())
        )
        if before is not None:
            q = q.where(JobRow.job_id != before)
        with self._store.read() as s:
            row = s.scalars(q.limit(1)).first()
            return None if row is None else self._record(s, row)

    def is_approved(self, job_id: str, digest: str) -> bool:
        """The gate's question: is this job approved, by enough people, for exactly this digest?"""
        with self._store.read() as s:
            row = s.get(JobRow, job_id)
            if row is None or row.state != JobState.APPROVED.value or row.digest != digest:
                return False
            approvals = self._approvals(s, job_id)
        yes = {normalise_name(a.approver) for a in approvals if a.decision == "approve" and a.digest == digest}
        return len(yes) >= row.required_approvals

    def rounds(self, job_id: str) -> list[RoundReport]:
        with self._store.read() as s:
            rows = s.scalars(select(RoundRow).where(RoundRow.job_id == job_id).order_by(RoundRow.round))
            return [RoundReport(r.job_id, r.round, json.loads(r.metrics_json), r.bytes_sent, r.at) for r in rows]

    def egress(self, job_id: str) -> list[EgressDecision]:
        with self._store.read() as s:
            rows = s.scalars(select(EgressRow).where(EgressRow.job_id == job_id).order_by(EgressRow.id))
            return [EgressDecision(r.job_id, r.round, r.allowed, r.reason, r.at) for r in rows]

    def revision(self) -> int:
        """A number that grows with every change (the audit head): poll it cheaply to know when to re-read."""
        with self._store.read() as s:
            return int(s.execute(select(func.coalesce(func.max(AuditRow.seq), 0))).scalar_one())
