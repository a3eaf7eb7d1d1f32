"""What every part of the job service shares: its collaborators, write transactions that still commit a refusal's
audit record, job rows read back as :class:`JobRecord`, and state transitions with their audit event."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from fednode.clock import Clock, utc_now
from fednode.errors import FednodeError, NotFoundError
from policies.audit import AuditEvent, AuditLog
from policies.contracts import Approval, JobRecord, JobState
from policies.jobcodec import manifest_from_json, verdict_from_json
from policies.ledger import PrivacyLedger
from policies.registry.rules import MAX_REASON, ApprovalRules
from policies.state import ApprovalRow, JobRow, StateStore
from policies.totp import TotpVerifier

log = logging.getLogger("fednode.policies.registry")


class Refusal(Exception):  # noqa: N818  # a control-flow signal, not an error users see
    """Internal: a refusal decided inside a transaction that must still commit its audit record."""

    def __init__(self, error: FednodeError) -> None:
        super().__init__(error.message)
        self.error = error


RefuseFn = Callable[[str, str], Refusal]


class RegistryBase:
    """The collaborators and shared steps of :class:`~policies.registry.JobService` (its parts subclass this)."""

    def __init__(
        self,
        store: StateStore,
        audit: AuditLog,
        ledger: PrivacyLedger | None,
        *,
        rules: ApprovalRules,
        totp: TotpVerifier | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._audit = audit
        self._ledger = ledger
        self.rules = rules
        self._totp = totp
        self._clock = clock

    @contextmanager
    def _committing(self) -> Iterator[Session]:
        """A write transaction that still commits when a :class:`Refusal` is raised inside it (so the refusal's
        audit record and state change persist), then raises the refusal's error. Other errors roll back."""
        refusal: Refusal | None = None
        with self._store.write() as s:
            try:
                yield s
            except Refusal as caught:
                refusal = caught
        if refusal is not None:
            raise refusal.error from None

    def _transition(
        self, s: Session, row: JobRow, target: JobState, reason: str, actor: str, details: dict[str, object]
    ) -> None:
        previous = row.state
        row.state = target.value
        row.state_reason = reason[:MAX_REASON]
        row.updated_at = self._clock()
        event = {
            JobState.APPROVED: AuditEvent.JOB_APPROVED,
            JobState.REJECTED: AuditEvent.JOB_REJECTED,
            JobState.RUNNING: AuditEvent.JOB_RUNNING,
            JobState.FINISHED: AuditEvent.JOB_FINISHED,
            JobState.REFUSED: AuditEvent.JOB_REFUSED,
            JobState.FAILED: AuditEvent.JOB_FAILED,
            JobState.PENDING: AuditEvent.JOB_PENDING,
        }[target]
        self._audit.append(event, actor=actor, job_id=row.job_id, details={"from": previous, **details}, session=s)
        s.flush()

    def _required(self, row: JobRow) -> int:
        # the stricter of the rule when the job arrived and the rule now (a policy may have tightened)
        return max(row.required_approvals, self.rules.required_approvals)

    @staticmethod
    def _row(s: Session, job_id: str) -> JobRow:
        row = s.get(JobRow, job_id)
        if row is None:
            raise NotFoundError(f"job {job_id} is not known at this site")
        return row

    @staticmethod
    def _approvals(s: Session, job_id: str) -> list[Approval]:
        rows = s.scalars(select(ApprovalRow).where(ApprovalRow.job_id == job_id).order_by(ApprovalRow.id))
        return [
            Approval(
                r.job_id,
                r.approver,
                r.decision,
                r.reason,
                r.digest,
                r.at,
                r.second_factor,
                r.key_fingerprint or "",
                r.signature or "",
                r.statement or "",
            )
            for r in rows
        ]

    def _record(self, s: Session, row: JobRow) -> JobRecord:
        return JobRecord(
            job_id=row.job_id,
            state=JobState(row.state),
            manifest=manifest_from_json(json.loads(row.manifest_json)),
            verdict=verdict_from_json(json.loads(row.verdict_json)),
            approvals=tuple(self._approvals(s, row.job_id)),
            required_approvals=self._required(row),
            created_at=row.created_at,
            updated_at=row.updated_at,
            state_reason=row.state_reason,
        )
