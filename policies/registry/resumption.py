"""A study the coordinator continues after a restart: the same bytes come back under a new job id naming the
study's first job, and this site carries its approval over instead of asking its people again, when nothing they
reviewed changed and the approval still holds under today's policy.

The continuation is accepted (registered APPROVED, audited ``job:resumed``) only when all of these hold:

- the first job is known here, was approved (approved, running, finished or failed; never rejected or refused) and
  is of the same study;
- the app digest and the declared fields, pinned meta included, are those of the first job (compared with the job
  id set aside: it is the one thing a resubmission changes);
- the policy verdict allows the job now;
- its approvals still hold: enough distinct people (today's ``required_approvals``) who are still approvers in the
  policy, each for this digest and, where approvals must be signed, with the key the approver has enrolled now (a
  replaced key revokes the approval).

Anything else registers the job as PENDING for a new review, with the reason in its audit record
(``resume_refused``). The privacy budget is not reserved again: the first job's reservation covers the study
(the rounds it completed are never trained again; the rounds the continuation trains record their own steps).
"""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy.orm import Session

from policies.audit import AuditEvent
from policies.contracts import JobManifest, JobRecord, JobState, Verdict
from policies.jobcodec import manifest_from_json, manifest_to_json, meta_digest, verdict_to_json
from policies.registry.base import RegistryBase, log
from policies.registry.queries import APPROVED_ONCE
from policies.registry.registration import JobRegistration
from policies.state import ApprovalRow, JobRow
from policies.totp import normalise_name


class JobResumption(JobRegistration, RegistryBase):
    """``register_resumed``: the gate's way in for a job that continues an approved study."""

    def register_resumed(
        self, manifest: JobManifest, verdict: Verdict, first_job_id: str, *, actor: str = "gate"
    ) -> JobRecord:
        """Register ``manifest`` (a continuation of ``first_job_id``) as approved when its approval carries over,
        else as pending for review (see the module docstring). Idempotent per ``job_id`` like
        :meth:`register_pending`."""
        with self._store.read() as s:
            if s.get(JobRow, manifest.job_id) is not None:
                return self.register_pending(manifest, verdict, actor=actor)
        with self._committing() as s:
            if s.get(JobRow, manifest.job_id) is not None:  # a concurrent call registered it first
                return self.register_pending(manifest, verdict, actor=actor)
            first = s.get(JobRow, first_job_id)
            why = self._why_not(s, first, manifest, verdict)
            if why is not None or first is None:
                log.info("registry.resume_refused job=%s first=%s why=%s", manifest.job_id, first_job_id, why)
                record = self._insert_pending(s, manifest, verdict, meta_digest(manifest), actor)
                self._audit.append(
                    AuditEvent.JOB_RESUME_REFUSED,
                    actor=actor,
                    job_id=manifest.job_id,
                    details={"first_job": first_job_id, "resume_refused": why or "unknown first job"},
                    session=s,
                )
                return record
            return self._insert_resumed(s, manifest, verdict, first, actor)

    def _why_not(self, s: Session, first: JobRow | None, manifest: JobManifest, verdict: Verdict) -> str | None:
        """Why the first job's approval does not carry over to ``manifest``, or ``None`` when it does."""
        if first is None:
            return "the first job is not known at this site"
        if first.state not in {x.value for x in APPROVED_ONCE} or first.approved_at is None:
            return f"the first job is {first.state}, it was never approved here"
        if first.study != manifest.study:
            return "another study"
        if first.digest != manifest.digest:
            return "the app digest changed"
        if meta_digest(replace(manifest, job_id=first.job_id)) != first.meta_digest:
            return "the declared fields or pinned meta changed"
        if not verdict.allowed:
            return "the site policy does not allow it now"
        held = self._approvals_that_hold(s, first)
        required = self._required(first)
        if len(held) < required:
            return f"{len(held)} of the {required} required approvals still hold under the site policy"
        return None

    def _approvals_that_hold(self, s: Session, first: JobRow) -> list[str]:
        held: set[str] = set()
        for a in self._approvals(s, first.job_id):
            if a.decision != "approve" or a.digest != first.digest or not self.rules.allows(a.approver):
                continue
            if self.rules.signed:
                enrolled = self.rules.key_of(a.approver)
                if enrolled is None or not a.key_fingerprint or enrolled.fingerprint != a.key_fingerprint:
                    continue  # unsigned, or the approver's key was replaced or withdrawn since
            held.add(normalise_name(a.approver))
        return sorted(held)

    def _insert_resumed(
        self, s: Session, manifest: JobManifest, verdict: Verdict, first: JobRow, actor: str
    ) -> JobRecord:
        now = self._clock()
        row = JobRow(
            job_id=manifest.job_id,
            study=manifest.study,
            digest=manifest.digest,
            meta_digest=meta_digest(manifest),
            state=JobState.APPROVED.value,
            state_reason="",
            required_approvals=self.rules.required_approvals,
            verdict_allowed=verdict.allowed,
            manifest_json=json.dumps(manifest_to_json(manifest), ensure_ascii=False),
            verdict_json=json.dumps(verdict_to_json(verdict), ensure_ascii=False),
            spent_epsilon=None,
            created_at=now,
            updated_at=now,
            approved_at=first.approved_at,
        )
        s.add(row)
        s.flush()
        approvers: list[str] = []
        for a in self._approvals(s, first.job_id):
            if a.decision != "approve" or a.digest != first.digest:
                continue
            approvers.append(a.approver)
            s.add(
                ApprovalRow(
                    job_id=row.job_id,
                    approver=a.approver,
                    decision=a.decision,
                    reason=a.reason,
                    digest=a.digest,
                    second_factor=a.second_factor,
                    at=a.at,
                    key_fingerprint=a.key_fingerprint,
                    signature=a.signature,
                    statement=a.statement,
                )
            )
        s.flush()
        first_manifest = manifest_from_json(json.loads(first.manifest_json))
        self._audit.append(
            AuditEvent.JOB_RESUMED,
            actor=actor,
            job_id=row.job_id,
            details={
                "first_job": first.job_id,
                "study": manifest.study,
                "digest": manifest.digest,
                "meta_digest": row.meta_digest,
                "approvers": sorted(approvers),
                "first_approved_at": first.approved_at.isoformat() if first.approved_at else None,
                "first_submitted_at": first_manifest.submitted_at.isoformat(),
                "policy_digest": verdict.policy_digest,
                "budget_reserved_again": False,
            },
            session=s,
        )
        log.info("registry.job_resumed job=%s first=%s", row.job_id, first.job_id)
        return self._record(s, row)
