"""The gate registers a job for review (at ``check_resources``), idempotently per ``job_id``; a known job that
comes back changed is audited as a conflict and refused."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from fednode.errors import DigestMismatchError
from policies.audit import AuditEvent
from policies.contracts import JobManifest, JobRecord, JobState, Verdict
from policies.jobcodec import manifest_to_json, meta_digest, verdict_to_json
from policies.registry.base import Refusal, RegistryBase, log
from policies.registry.rules import MAX_REASON
from policies.state import JobRow


class JobRegistration(RegistryBase):
    """``register_pending``: the gate's way in."""

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
        raise Refusal(DigestMismatchError(f"job {row.job_id}: came back with a different {what}; refused"))
