"""The gate moves an approved job through its run: verify the deployed bytes, then running, finished, failed or
refused; each end settles the job's privacy-budget reservation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fednode.errors import DigestMismatchError, JobStateError
from policies.audit import AuditEvent
from policies.contracts import JobManifest, JobRecord, JobState
from policies.jobcodec import meta_digest
from policies.registry.base import Refusal, RegistryBase
from policies.registry.rules import clean_reason
from policies.state import AccountantStepRow


class JobLifecycle(RegistryBase):
    """``verify_deploy`` and the ``mark_*`` transitions the gate reports."""

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
                raise Refusal(DigestMismatchError(f"job {job_id}: deployed {what} differs from the approved one"))
            if row.state != JobState.APPROVED.value:
                raise Refusal(JobStateError(f"job {job_id} is {row.state}, not approved"))
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
        return self._move(job_id, (JobState.APPROVED, JobState.RUNNING), JobState.FAILED, clean_reason(reason), actor)

    def mark_refused(self, job_id: str, reason: str, *, actor: str = "gate") -> JobRecord:
        """PENDING or APPROVED -> REFUSED by the gate or policy; a reservation is released."""
        return self._move(job_id, (JobState.PENDING, JobState.APPROVED), JobState.REFUSED, clean_reason(reason), actor)

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
                raise Refusal(JobStateError(f"job {job_id} is {row.state}; cannot become {target.value}"))
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
