"""The job registry and approval service: the one place that changes a job's state at this site.

The NVFlare gate (``node.flare``), the CLI (``fednode jobs|approve|reject``) and the dashboard all call
:class:`JobService`, from different processes, on one state.db. Every transition is written together with its
audit record in one transaction (commit or roll back together); refusals are audited too.

States (``JobState``)::

    PENDING ──approve × N──► APPROVED ──mark_running──► RUNNING ──mark_finished──► FINISHED
       │                        │                          └──────mark_failed───► FAILED
       ├──reject───────────────►├──► REJECTED
       └──mark_refused─────────►└──► REFUSED     (gate: digest or meta changed, denied verdict, policy)

Approval rules: the verdict must allow the job; the approver must be listed in the policy; each approver once
per job; a valid, unused TOTP code when the policy asks for one; ``required_approvals`` distinct people. The
last approval reserves the job's privacy budget in the same transaction (refused if it would exceed) and binds
the approval to the manifest digest: :meth:`JobService.is_approved` is true only for that exact digest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fednode.errors import (
    ApprovalRefusedError,
    BudgetExceededError,
    DigestMismatchError,
    FednodeError,
    JobStateError,
    NotFoundError,
    ServiceError,
)
from policies.audit import AuditEvent, AuditLog
from policies.contracts import (
    Approval,
    EgressDecision,
    JobManifest,
    JobRecord,
    JobState,
    RoundReport,
    Verdict,
)
from policies.jobcodec import manifest_from_json, manifest_to_json, meta_digest, verdict_from_json, verdict_to_json
from policies.ledger import MAX_RETRIES, PrivacyLedger, ReservationPlan, StaleLedgerError
from policies.state import (
    AccountantStepRow,
    ApprovalRow,
    AuditRow,
    Clock,
    EgressRow,
    JobRow,
    RoundRow,
    StateStore,
    TotpUseRow,
    utc_now,
)
from policies.totp import TotpVerifier, normalise_name

log = logging.getLogger("fednode.policies.registry")

APPROVED_ONCE = (JobState.APPROVED, JobState.RUNNING, JobState.FINISHED, JobState.FAILED)
"""States a job reaches only after its approvals: ``last_approved`` looks among these."""

MAX_REASON = 2000


@dataclass(frozen=True)
class ApprovalRules:
    """Who may approve and how (from the policy's ``approval`` section).

    ``approvers`` empty means nobody may approve (the safe default when no site policy is loaded).
    """

    approvers: tuple[str, ...] = ()
    required_approvals: int = 1
    totp_required: bool = False

    def __post_init__(self) -> None:
        if self.required_approvals < 1:
            raise ValueError("required_approvals must be at least 1")

    @classmethod
    def from_policy(cls, approval: object) -> ApprovalRules:
        """From ``policies.policy_model.ApprovalSection`` (duck-typed: approvers, required_approvals,
        totp_required)."""
        return cls(
            approvers=tuple(getattr(approval, "approvers", ())),
            required_approvals=int(getattr(approval, "required_approvals", 1)),
            totp_required=bool(getattr(approval, "totp_required", False)),
        )

    def allows(self, approver: str) -> bool:
        return normalise_name(approver) in {normalise_name(a) for a in self.approvers}


class _Refusal(Exception):  # noqa: N818  # a control-flow signal, not an error users see
    """Internal: a refusal decided inside a transaction that must still commit its audit record."""

    def __init__(self, error: FednodeError) -> None:
        super().__init__(error.message)
        self.error = error


_RefuseFn = Callable[[str, str], _Refusal]


class JobService:
    """Job registry + approval service on state.db. One instance per process; thread-safe (no shared state
    besides the store's connection pool)."""

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

    # --- registration (the gate, at check_resources) ------------------------------------------------------

    def register_pending(self, manifest: JobManifest, verdict: Verdict, *, actor: str = "gate") -> JobRecord:
        """Record a job for review, idempotently per ``job_id``.

        The same job coming back (the scheduler retries every few seconds) returns the stored record. A known
        ``job_id`` with a different digest or pinned meta is refused: audited as ``job:conflict``, the job is
        refused if it was not yet running, and :class:`DigestMismatchError` is raised.
        """
        digest_meta = meta_digest(manifest)
        with self._store.read() as s:
            existing = s.get(JobRow, manifest.job_id)
            if existing is not None and existing.digest == manifest.digest and existing.meta_digest == digest_meta:
                return self._record(s, existing)
        with self._committing() as s:
            row = s.get(JobRow, manifest.job_id)
            if row is None:
                return self._insert_pending(s, manifest, verdict, digest_meta, actor)
            if row.digest == manifest.digest and row.meta_digest == digest_meta:
                return self._record(s, row)  # a concurrent call registered it first
            self._conflict(s, row, manifest, digest_meta, actor)
        raise AssertionError("unreachable")  # pragma: no cover

    def _insert_pending(
        self, s: Session, manifest: JobManifest, verdict: Verdict, digest_meta: str, actor: str
    ) -> JobRecord:
        now = self._clock()
        row = JobRow(
            job_id=manifest.job_id,
            study=manifest.study,
            digest=manifest.digest,
            meta_digest=digest_meta,
            state=JobState.PENDING.value,
            state_reason="" if verdict.allowed else "; ".join(verdict.reasons)[:MAX_REASON],
            required_approvals=self.rules.required_approvals,
            verdict_allowed=verdict.allowed,
            manifest_json=json.dumps(manifest_to_json(manifest), ensure_ascii=False),
            verdict_json=json.dumps(verdict_to_json(verdict), ensure_ascii=False),
            spent_epsilon=None,
            created_at=now,
            updated_at=now,
            approved_at=None,
        )
        s.add(row)
        s.flush()
        self._audit.append(
            AuditEvent.JOB_PENDING,
            actor=actor,
            job_id=manifest.job_id,
            details={
                "study": manifest.study,
                "app": manifest.app_name,
                "digest": manifest.digest,
                "meta_digest": digest_meta,
                "kind": manifest.kind.value,
                "submitter": manifest.submitter,
                "files": len(manifest.files),
                "verdict_allowed": verdict.allowed,
                "deny_rules": [r.rule for r in verdict.results if r.outcome.value == "deny"],
                "policy_digest": verdict.policy_digest,
                "required_approvals": self.rules.required_approvals,
            },
            session=s,
        )
        log.info("registry.job_pending job=%s allowed=%s", manifest.job_id, verdict.allowed)
        return self._record(s, row)

    def _conflict(self, s: Session, row: JobRow, manifest: JobManifest, digest_meta: str, actor: str) -> None:
        what = "digest" if row.digest != manifest.digest else "pinned meta"
        self._audit.append(
            AuditEvent.JOB_CONFLICT,
            actor=actor,
            job_id=row.job_id,
            details={
                "changed": what,
                "stored_digest": row.digest,
                "offered_digest": manifest.digest,
                "stored_meta_digest": row.meta_digest,
                "offered_meta_digest": digest_meta,
                "state": row.state,
            },
            session=s,
        )
        if row.state in (JobState.PENDING.value, JobState.APPROVED.value):
            self._transition(s, row, JobState.REFUSED, f"resubmitted with a different {what}", actor, {})
        raise _Refusal(DigestMismatchError(f"job {row.job_id}: came back with a different {what}; refused"))

    # --- reading ------------------------------------------------------------------------------------------

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

    # --- decisions (people, through the CLI or the dashboard) ---------------------------------------------

    def approve(self, job_id: str, approver: str, reason: str, totp_code: str | None = None) -> JobRecord:
        """Record ``approver``'s approval of the job's current digest.

        Refused (:class:`ApprovalRefusedError`, audited as ``job:approval_refused``) for a denying verdict, an
        approver not in the policy, a repeated approver, a missing, wrong or replayed TOTP code where required,
        or a job that is not pending. The job stays PENDING until the N-th distinct approval; that one reserves
        the privacy budget (:class:`BudgetExceededError` if it does not fit; the approval is then not recorded)
        and moves the job to APPROVED.
        """
        approver, reason = _clean_person(approver), _clean_reason(reason)
        for _ in range(MAX_RETRIES):
            plan = self._plan_budget_if_final(job_id)
            try:
                with self._committing() as s:
                    return self._approve_locked(s, job_id, approver, reason, totp_code, plan)
            except StaleLedgerError:
                continue
            except BudgetExceededError as exc:
                # the approval was rolled back with the reservation; record why, in a transaction of its own
                self._audit.append(
                    AuditEvent.JOB_APPROVAL_REFUSED,
                    actor=approver,
                    job_id=job_id,
                    details={"why": "budget", "message": exc.message},
                )
                if plan is not None and self._ledger is not None:
                    self._ledger.audit_refusal(plan, actor=approver)
                raise
        raise ServiceError(f"job {job_id}: state.db too busy to record the approval")

    def _plan_budget_if_final(self, job_id: str) -> ReservationPlan | None:
        """Outside the lock: if the next approval could be the last, compute the budget reservation."""
        if self._ledger is None:
            return None
        with self._store.read() as s:
            row = s.get(JobRow, job_id)
            if row is None or row.state != JobState.PENDING.value:
                return None
            have = len(self._approvals(s, job_id))
            manifest = manifest_from_json(json.loads(row.manifest_json))
        if manifest.dp is None or have + 1 < self._required(row):
            return None
        try:
            return self._ledger.plan_reservation(job_id, manifest.dataset, manifest.dp)
        except BudgetExceededError:
            return None  # no budget configured / already reserved: decided (and audited) under the lock

    def _approve_locked(
        self,
        s: Session,
        job_id: str,
        approver: str,
        reason: str,
        totp_code: str | None,
        plan: ReservationPlan | None,
    ) -> JobRecord:
        row = s.get(JobRow, job_id)
        if row is None:
            raise NotFoundError(f"job {job_id} is not known at this site")

        def refuse(why: str, code: str) -> _Refusal:
            self._audit.append(
                AuditEvent.JOB_APPROVAL_REFUSED,
                actor=approver,
                job_id=job_id,
                details={"why": code, "digest": row.digest, "state": row.state},
                session=s,
            )
            return _Refusal(ApprovalRefusedError(f"job {job_id}: {why}"))

        if row.state != JobState.PENDING.value:
            raise refuse(f"is {row.state}, not pending", "not_pending")
        if not row.verdict_allowed:
            raise refuse("the policy verdict denies this job; it cannot be approved", "verdict_denies")
        if not self.rules.allows(approver):
            raise refuse(f"{approver!r} is not an approver in the site policy", "not_an_approver")
        existing = self._approvals(s, job_id)
        if normalise_name(approver) in {normalise_name(a.approver) for a in existing}:
            raise refuse(f"{approver!r} has already decided on this job; another person must approve", "repeated")
        second_factor = self._check_totp(s, approver, totp_code, refuse)
        now = self._clock()
        s.add(
            ApprovalRow(
                job_id=job_id,
                approver=approver,
                decision="approve",
                reason=reason,
                digest=row.digest,
                second_factor=second_factor,
                at=now,
            )
        )
        count, required = len(existing) + 1, self._required(row)
        details = {"digest": row.digest, "approvals": count, "required": required, "totp": second_factor}
        if count < required:
            self._audit.append(
                AuditEvent.JOB_APPROVAL_RECORDED,
                actor=approver,
                job_id=job_id,
                details={**details, "reason": reason},
                session=s,
            )
            row.updated_at = now
            s.flush()
            return self._record(s, row)
        manifest = manifest_from_json(json.loads(row.manifest_json))
        reserved = None
        if manifest.dp is not None and self._ledger is not None:
            if plan is None:  # not planned outside the lock (e.g. no budget configured): plan here, may raise
                plan = self._ledger.plan_reservation(job_id, manifest.dataset, manifest.dp)
            # BudgetExceededError propagates: the whole approval rolls back, approve() audits the refusal
            reserved = self._ledger.apply_reservation(plan, session=s, actor=approver)
        approvers = sorted({a.approver for a in existing} | {approver})
        row.approved_at = now
        extra: dict[str, object] = {"approvers": approvers, "reason": reason}
        if reserved is not None:
            extra["reserved_epsilon"] = reserved.reserved_epsilon
        self._transition(s, row, JobState.APPROVED, "", approver, {**details, **extra})
        log.info("registry.job_approved job=%s approvals=%d", job_id, count)
        return self._record(s, row)

    def _check_totp(self, s: Session, approver: str, code: str | None, refuse: _RefuseFn) -> bool:
        if not self.rules.totp_required:
            return False
        if not code:
            raise refuse("the site policy requires a TOTP code for approvals", "totp_missing")
        if self._totp is None:
            raise refuse("the site policy requires TOTP but no TOTP store is configured", "totp_unconfigured")
        step = self._totp.verify(approver, code, self._clock())
        if step is None:
            raise refuse("the TOTP code is wrong or expired", "totp_bad")
        key = normalise_name(approver)
        if s.get(TotpUseRow, (key, step)) is not None:
            raise refuse("this TOTP code was already used; wait for the next one", "totp_replayed")
        s.add(TotpUseRow(approver=key, timestep=step, at=self._clock()))
        return True

    def reject(self, job_id: str, approver: str, reason: str) -> JobRecord:
        """A person says no: PENDING or APPROVED (not yet running) becomes REJECTED; a reservation is released.

        Any listed approver may reject; no second factor is needed to stop a job.
        """
        approver, reason = _clean_person(approver), _clean_reason(reason)
        with self._committing() as s:
            row = self._row(s, job_id)
            if row.state not in (JobState.PENDING.value, JobState.APPROVED.value):
                raise _Refusal(
                    JobStateError(f"job {job_id} is {row.state}; only pending or approved jobs can be rejected")
                )
            if not self.rules.allows(approver):
                self._audit.append(
                    AuditEvent.JOB_APPROVAL_REFUSED,
                    actor=approver,
                    job_id=job_id,
                    details={"why": "not_an_approver", "decision": "reject", "state": row.state},
                    session=s,
                )
                raise _Refusal(ApprovalRefusedError(f"job {job_id}: {approver!r} is not an approver"))
            if normalise_name(approver) not in {normalise_name(a.approver) for a in self._approvals(s, job_id)}:
                s.add(
                    ApprovalRow(
                        job_id=job_id,
                        approver=approver,
                        decision="reject",
                        reason=reason,
                        digest=row.digest,
                        second_factor=False,
                        at=self._clock(),
                    )
                )
            if self._ledger is not None:
                self._ledger.release(job_id, actor=approver, session=s)
            self._transition(s, row, JobState.REJECTED, reason, approver, {"digest": row.digest, "reason": reason})
            return self._record(s, row)

    # --- the gate and the trainer -------------------------------------------------------------------------

    def verify_deploy(
        self, job_id: str, digest: str, manifest: JobManifest | None = None, *, actor: str = "gate"
    ) -> None:
        """At deploy: the bytes about to run hash to ``digest``; refuse (and audit) anything not approved for it.

        With ``manifest``, its declared fields and pinned meta must also equal what was approved. On mismatch the
        job becomes REFUSED and :class:`DigestMismatchError` is raised; an unapproved job raises
        :class:`JobStateError`.
        """
        with self._committing() as s:
            row = self._row(s, job_id)
            meta_ok = manifest is None or meta_digest(manifest) == row.meta_digest
            if row.digest != digest or not meta_ok:
                what = "digest" if row.digest != digest else "pinned meta"
                self._audit.append(
                    AuditEvent.DIGEST_MISMATCH,
                    actor=actor,
                    job_id=job_id,
                    details={"changed": what, "approved_digest": row.digest, "deployed_digest": digest},
                    session=s,
                )
                if row.state in (JobState.PENDING.value, JobState.APPROVED.value):
                    self._release(s, job_id, actor)
                    self._transition(
                        s, row, JobState.REFUSED, f"deployed {what} differs from the approved one", actor, {}
                    )
                raise _Refusal(DigestMismatchError(f"job {job_id}: deployed {what} differs from the approved one"))
            if row.state != JobState.APPROVED.value:
                raise _Refusal(JobStateError(f"job {job_id} is {row.state}, not approved"))
            self._audit.append(
                AuditEvent.DIGEST_VERIFIED, actor=actor, job_id=job_id, details={"digest": digest}, session=s
            )

    def mark_running(self, job_id: str, *, actor: str = "gate") -> JobRecord:
        """APPROVED -> RUNNING (the app was deployed with the approved digest and started)."""
        return self._move(job_id, (JobState.APPROVED,), JobState.RUNNING, "", actor)

    def mark_finished(self, job_id: str, spent_epsilon: float | None = None, *, actor: str = "gate") -> JobRecord:
        """RUNNING -> FINISHED; the ledger commits the actual spend (recorded steps, else ``spent_epsilon``)."""
        return self._move(job_id, (JobState.RUNNING,), JobState.FINISHED, "", actor, spent_epsilon=spent_epsilon)

    def mark_failed(self, job_id: str, reason: str, *, actor: str = "gate") -> JobRecord:
        """RUNNING (or APPROVED, if it never started) -> FAILED; steps it took stay spent."""
        return self._move(job_id, (JobState.APPROVED, JobState.RUNNING), JobState.FAILED, _clean_reason(reason), actor)

    def mark_refused(self, job_id: str, reason: str, *, actor: str = "gate") -> JobRecord:
        """PENDING or APPROVED -> REFUSED by the gate or policy; a reservation is released."""
        return self._move(job_id, (JobState.PENDING, JobState.APPROVED), JobState.REFUSED, _clean_reason(reason), actor)

    def record_round(self, report: RoundReport, *, actor: str = "trainer") -> None:
        """Store one round's local metrics (numbers only) and bytes sent; audited as ``job:round``."""
        metrics = {str(k): float(v) for k, v in report.metrics.items()}
        with self._store.write() as s:
            self._row(s, report.job_id)
            existing = s.get(RoundRow, (report.job_id, report.round))
            if existing is None:
                s.add(
                    RoundRow(
                        job_id=report.job_id,
                        round=report.round,
                        metrics_json=json.dumps(metrics),
                        bytes_sent=report.bytes_sent,
                        at=report.at,
                    )
                )
            else:
                existing.metrics_json, existing.bytes_sent, existing.at = (
                    json.dumps(metrics),
                    report.bytes_sent,
                    report.at,
                )
            self._audit.append(
                AuditEvent.JOB_ROUND,
                actor=actor,
                job_id=report.job_id,
                details={"round": report.round, "metrics": metrics, "bytes_sent": report.bytes_sent},
                session=s,
            )

    def record_egress(self, decision: EgressDecision, *, actor: str = "egress_guard") -> None:
        """Store one egress-guard decision; audited as ``egress:allowed`` or ``egress:blocked``."""
        with self._store.write() as s:
            self._row(s, decision.job_id)
            s.add(
                EgressRow(
                    job_id=decision.job_id,
                    round=decision.round,
                    allowed=decision.allowed,
                    reason=_clean_reason(decision.reason),
                    at=decision.at,
                )
            )
            self._audit.append(
                AuditEvent.EGRESS_ALLOWED if decision.allowed else AuditEvent.EGRESS_BLOCKED,
                actor=actor,
                job_id=decision.job_id,
                details={"round": decision.round, "reason": _clean_reason(decision.reason)},
                session=s,
            )

    # --- internals ----------------------------------------------------------------------------------------

    @contextmanager
    def _committing(self) -> Iterator[Session]:
        """A write transaction that still commits when a :class:`_Refusal` is raised inside it (so the refusal's
        audit record and state change persist), then raises the refusal's error. Other errors roll back."""
        refusal: _Refusal | None = None
        with self._store.write() as s:
            try:
                yield s
            except _Refusal as caught:
                refusal = caught
        if refusal is not None:
            raise refusal.error from None

    def _move(
        self,
        job_id: str,
        sources: Sequence[JobState],
        target: JobState,
        reason: str,
        actor: str,
        *,
        spent_epsilon: float | None = None,
    ) -> JobRecord:
        with self._committing() as s:
            row = self._row(s, job_id)
            if row.state == target.value:
                return self._record(s, row)  # idempotent (the gate may report twice)
            if row.state not in {x.value for x in sources}:
                raise _Refusal(JobStateError(f"job {job_id} is {row.state}; cannot become {target.value}"))
            details: dict[str, object] = {"digest": row.digest}
            if target is JobState.FINISHED:
                res = (
                    self._ledger.commit(job_id, actor=actor, spent_epsilon=spent_epsilon, session=s)
                    if self._ledger
                    else None
                )
                row.spent_epsilon = None if res is None else res.spent_epsilon
                details["spent_epsilon"] = row.spent_epsilon
            elif target is JobState.FAILED:
                took_steps = s.scalars(select(AccountantStepRow.id).where(AccountantStepRow.job_id == job_id)).first()
                if self._ledger is not None and took_steps is not None:
                    self._ledger.commit(job_id, actor=actor, session=s)
                else:
                    self._release(s, job_id, actor)
            elif target is JobState.REFUSED:
                self._release(s, job_id, actor)
            if reason:
                details["reason"] = reason
            self._transition(s, row, target, reason, actor, details)
            return self._record(s, row)

    def _release(self, s: Session, job_id: str, actor: str) -> None:
        if self._ledger is not None:
            self._ledger.release(job_id, actor=actor, session=s)

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
        return [Approval(r.job_id, r.approver, r.decision, r.reason, r.digest, r.at, r.second_factor) for r in rows]

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


def _clean_person(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 200:
        raise ApprovalRefusedError("an approver name of 1-200 characters is required")
    return cleaned


def _clean_reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise ApprovalRefusedError("a reason is required")
    return cleaned[:MAX_REASON]
