"""Audit event tags, ``subject:action``."""

from __future__ import annotations

from enum import StrEnum


class AuditEvent(StrEnum):
    """Every kind of thing the audit log records. Add members here; never reuse a tag for a new meaning."""

    JOB_PENDING = "job:pending"  # the gate recorded a job for review
    JOB_CONFLICT = "job:conflict"  # a job id came back with a different digest or pinned meta
    JOB_APPROVAL_RECORDED = "job:approval_recorded"  # one approver said yes; more are needed
    JOB_APPROVAL_REFUSED = "job:approval_refused"  # an approval attempt was refused (verdict, TOTP, approver)
    JOB_APPROVED = "job:approved"  # the last required approval; bound to the digest
    JOB_REJECTED = "job:rejected"
    JOB_RUNNING = "job:running"
    JOB_FINISHED = "job:finished"
    JOB_REFUSED = "job:refused"  # refused by gate or policy (digest mismatch, meta changed, denied verdict)
    JOB_FAILED = "job:failed"
    JOB_ROUND = "job:round"
    JOB_RESUMED = "job:resumed"  # a continued study (coordinator restart): the first job's approval carried over
    JOB_RESUME_REFUSED = "job:resume_refused"  # a continuation that needs a new review: what changed (no data)
    DIGEST_VERIFIED = "digest:verified"
    DIGEST_MISMATCH = "digest:mismatch"
    EGRESS_ALLOWED = "egress:allowed"
    EGRESS_BLOCKED = "egress:blocked"
    SANDBOX_DENIED = "sandbox:denied"  # confined job code tried something the sandbox forbids (category only)
    BUDGET_RESERVED = "budget:reserved"
    BUDGET_REFUSED = "budget:refused"
    BUDGET_COMMITTED = "budget:committed"
    BUDGET_RELEASED = "budget:released"
    BUDGET_STEPS = "budget:steps"  # DP-SGD steps recorded in the accountant history
    POLICY_LOADED = "policy:loaded"
    POLICY_COMPILED = "policy:compiled"
    AUDIT_EXPORTED = "audit:exported"
    RECEIPT_ISSUED = "receipt:issued"
    MODEL_VERIFIED = "model:verified"
    MODEL_REJECTED = "model:rejected"
    # --- processing of site data and the site's own set-up (GDPR art. 30 record of processing) --------------
    ETL_LOADED = "etl:loaded"  # a source extract loaded into the CDM: source digest, rows per table, quarantined
    NOTES_LOADED = "notes:loaded"  # notes de-identified into the CDM: counts per PHI label, operator, secret id
    NOTES_DEIDENTIFIED = "notes:deidentified"  # notes de-identified into a file (not the CDM): counts only
    DQ_RUN = "dq:run"  # the data-quality gate ran: passed/failed/accepted counts, verdict, accepted check names
    KEY_CREATED = "key:created"  # the site signing key was created (site init / boot): key id only
    KEY_INSTALLED = "key:installed"  # a site key was installed from the compose secret at boot: key id only
    APPROVER_ENROLLED = "approver:enrolled"  # an approver's second factor was enrolled or replaced (never the secret)
    # --- at the coordinator (its own audit log in the federation folder) ----------------------------------------
    FEDERATION_PROVISIONED = "federation:provisioned"  # startup kits written: project, sites, coordinator key id
    STUDY_SUBMITTED = "study:submitted"  # a study job submitted: job id, digest, sites
    STUDY_DOWNLOADED = "study:downloaded"  # a study result downloaded and verified: job id, digests, signer
