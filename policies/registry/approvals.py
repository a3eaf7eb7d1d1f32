"""People decide on a pending job (through the CLI or the dashboard): approve, once each, until enough distinct
approvers agree (the last approval reserves the privacy budget and binds the digest), or reject."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from fednode.errors import ApprovalRefusedError, BudgetExceededError, JobStateError, NotFoundError, ServiceError
from policies.approver_keys import ApprovalStatement, ApproverKey, SignedApproval, Sshsig, SshsigError
from policies.audit import AuditEvent
from policies.contracts import JobRecord, JobState
from policies.jobcodec import manifest_from_json
from policies.ledger import MAX_RETRIES, ReservationPlan, StaleLedgerError
from policies.registry.base import Refusal, RegistryBase, log
from policies.registry.rules import clean_person, clean_reason
from policies.registry.second_factor import check_signature, check_totp, signing_key
from policies.state import ApprovalRow, JobRow
from policies.totp import normalise_name


class ApprovalDecisions(RegistryBase):
    """``approve`` and ``reject``, with every refusal audited."""

    def approve(
        self,
        job_id: str,
        approver: str | None,
        reason: str,
        totp_code: str | None = None,
        signed: SignedApproval | None = None,
    ) -> JobRecord:
        """Record an approval of the job's current digest.

        Where the policy's ``approval.identity`` is ``key`` (the default) the approval must be ``signed`` by an
        enrolled key over this job's statement (:func:`~policies.registry.second_factor.check_signature`); the
        approver is the key's owner (``approver``, if given, must be that person) and four eyes means distinct
        keys. Refused (:class:`ApprovalRefusedError`, audited as ``job:approval_refused``) for a denying verdict,
        an approver not in the policy, a repeated approver or key, a bad signature, a missing, wrong or replayed
        TOTP code where required, or a job that is not pending. The job stays PENDING until the N-th distinct
        approval; that one reserves the privacy budget (:class:`BudgetExceededError` if it does not fit; the
        approval is then not recorded) and moves the job to APPROVED.
        """
        claimed = clean_person(approver) if approver is not None else None
        reason = clean_reason(reason)
        actor = claimed or self._signer_name(signed) or "unknown"
        for _ in range(MAX_RETRIES):
            plan = self._plan_budget_if_final(job_id)
            try:
                with self._committing() as s:
                    return self._approve_locked(s, job_id, claimed, reason, totp_code, signed, plan)
            except StaleLedgerError:
                continue
            except BudgetExceededError as exc:
                # the approval was rolled back with the reservation; record why, in a transaction of its own
                self._audit.append(
                    AuditEvent.JOB_APPROVAL_REFUSED,
                    actor=actor,
                    job_id=job_id,
                    details={"why": "budget", "message": exc.message},
                )
                if plan is not None and self._ledger is not None:
                    self._ledger.audit_refusal(plan, actor=actor)
                raise
        raise ServiceError(f"job {job_id}: state.db too busy to record the approval")

    def statement(self, job_id: str, decision: str = "approve") -> ApprovalStatement:
        """The statement an approver signs to decide on the job as it stands now (at this site, at this time)."""
        with self._store.read() as s:
            row = self._row(s, job_id)
            return ApprovalStatement(row.job_id, row.digest, row.meta_digest, self.rules.site, decision, self._clock())

    def _signer_name(self, signed: SignedApproval | None) -> str | None:
        """The enrolled owner of the key that made ``signed`` (untrusted until verified; for audit actors)."""
        if signed is None:
            return None
        try:
            return self.rules.owner_of(Sshsig.parse(signed.signature).key)
        except SshsigError:
            return None

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
        claimed: str | None,
        reason: str,
        totp_code: str | None,
        signed: SignedApproval | None,
        plan: ReservationPlan | None,
    ) -> JobRecord:
        row = s.get(JobRow, job_id)
        if row is None:
            raise NotFoundError(f"job {job_id} is not known at this site")
        facts: dict[str, object] = {}
        actor = claimed or "unknown"

        def refuse(why: str, code: str) -> Refusal:
            self._audit.append(
                AuditEvent.JOB_APPROVAL_REFUSED,
                actor=actor,
                job_id=job_id,
                details={"why": code, "digest": row.digest, "state": row.state, **facts},
                session=s,
            )
            return Refusal(ApprovalRefusedError(f"job {job_id}: {why}"))

        key: ApproverKey | None = None
        if signed is not None:
            facts["signature_sha256"] = signed.signature_sha256
            signer = signing_key(signed, refuse)
            facts["key"] = signer.fingerprint
            actor = claimed or self.rules.owner_of(signer) or signer.fingerprint
        if row.state != JobState.PENDING.value:
            raise refuse(f"is {row.state}, not pending", "not_pending")
        if not row.verdict_allowed:
            raise refuse("the policy verdict denies this job; it cannot be approved", "verdict_denies")
        if signed is not None:
            approver, key = check_signature(
                row, signed, claimed, refuse, rules=self.rules, decision="approve", now=self._clock()
            )
        elif self.rules.signed:
            raise refuse(
                "the site policy requires an approval signed by your own key (`fednode approve JOB --statement`, "
                "sign it, then `--signature`; or through your SSH agent)",
                "signature_missing",
            )
        elif claimed is None:
            raise refuse("an approver name is required", "no_approver")
        else:
            approver = claimed
        actor = approver
        if not self.rules.allows(approver):
            raise refuse(f"{approver!r} is not an approver in the site policy", "not_an_approver")
        existing = self._approvals(s, job_id)
        if normalise_name(approver) in {normalise_name(a.approver) for a in existing}:
            raise refuse(f"{approver!r} has already decided on this job; another person must approve", "repeated")
        if key is not None and key.fingerprint in {a.key_fingerprint for a in existing}:
            raise refuse("this key has already approved this job; another person's key must", "repeated_key")
        second_factor = check_totp(
            s, approver, totp_code, refuse, required=self.rules.totp_required, totp=self._totp, clock=self._clock
        )
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
                key_fingerprint=key.fingerprint if key is not None else "",
                signature=signed.signature if signed is not None else "",
                statement=signed.statement.decode("utf-8") if signed is not None else "",
            )
        )
        count, required = len(existing) + 1, self._required(row)
        details: dict[str, object] = {
            "digest": row.digest,
            "approvals": count,
            "required": required,
            "totp": second_factor,
            **facts,
        }
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
        keys = sorted(
            {a.key_fingerprint for a in existing if a.key_fingerprint} | ({key.fingerprint} if key else set())
        )
        if keys:
            extra["keys"] = keys
        if reserved is not None:
            extra["reserved_epsilon"] = reserved.reserved_epsilon
        self._transition(s, row, JobState.APPROVED, "", approver, {**details, **extra})
        log.info("registry.job_approved job=%s approvals=%d", job_id, count)
        return self._record(s, row)

    def reject(self, job_id: str, approver: str, reason: str) -> JobRecord:
        """A person says no: PENDING or APPROVED (not yet running) becomes REJECTED; a reservation is released.

        Any listed approver may reject; no second factor is needed to stop a job.
        """
        approver, reason = clean_person(approver), clean_reason(reason)
        with self._committing() as s:
            row = self._row(s, job_id)
            if row.state not in (JobState.PENDING.value, JobState.APPROVED.value):
                raise Refusal(
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
                raise Refusal(ApprovalRefusedError(f"job {job_id}: {approver!r} is not an approver"))
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
