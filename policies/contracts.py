"""Value types shared by the gate (``node``), the approval service (``policies``) and the dashboard (``tui``).

These are the contract between packages: change them only together with every user. They are plain frozen
dataclasses so they cross process boundaries as JSON (``to_json``/``from_json`` in the modules that store them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Where a job stands at this site."""

    PENDING = "pending"  # held at check_resources, waiting for people
    APPROVED = "approved"  # enough approvals bound to the digest; the gate will let it deploy
    REJECTED = "rejected"  # a person said no; the gate refuses it
    RUNNING = "running"  # deployed (digest re-checked) and started
    FINISHED = "finished"  # ended normally
    REFUSED = "refused"  # refused by the gate or policy (digest mismatch, meta changed, denied verdict)
    FAILED = "failed"  # started but ended with an error


class JobKind(StrEnum):
    CONFIG_ONLY = "config_only"  # uses the appliance's built-in, reviewed trainer
    BYOC = "byoc"  # brings its own code


class RuleOutcome(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    WARN = "warn"  # shown to the reviewer; does not deny


@dataclass(frozen=True)
class RuleResult:
    """One policy rule's outcome with a human-readable reason."""

    rule: str
    outcome: RuleOutcome
    reason: str


@dataclass(frozen=True)
class Finding:
    """A static-scan finding: where, what capability, and why it matters."""

    file: str
    line: int
    capability: str  # network, subprocess, filesystem, dynamic_code, deserialisation, environment, native_code
    message: str
    severity: str = "deny"  # "deny": the code_scan rule may deny on it; "warn": shown at its line, never denies


@dataclass(frozen=True)
class Verdict:
    """The policy engine's decision on a job: one result per rule, deterministic."""

    allowed: bool
    results: tuple[RuleResult, ...]
    findings: tuple[Finding, ...] = ()
    policy_digest: str = ""

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason for r in self.results if r.outcome is RuleOutcome.DENY)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Scan findings that never deny (``severity == "warn"``): the reviewer sees them at their lines."""
        return tuple(f for f in self.findings if f.severity == "warn")


@dataclass(frozen=True)
class DpParams:
    """Differential-privacy parameters of a job (as the site policy imposes them)."""

    noise_multiplier: float
    max_grad_norm: float
    target_epsilon: float
    delta: float
    sample_rate: float = 0.0
    steps: int = 0
    accountant: str = "prv"  # prv or rdp


@dataclass(frozen=True)
class ManifestFile:
    """One file of a job's app as submitted: relative path, digest and (text) content for review."""

    path: str
    sha256: str
    size: int
    content: str | None = None  # None for a binary file (which the gate refuses anyway)


@dataclass(frozen=True)
class JobManifest:
    """What the submitter declared and the site reviews: every file, the app digest, the pinned meta."""

    job_id: str
    study: str
    app_name: str
    digest: str
    files: tuple[ManifestFile, ...]
    kind: JobKind
    submitter: str  # certificate identity (name / organisation)
    submitted_at: datetime
    algorithm: str = "fedavg"
    rounds: int = 1
    min_clients: int = 1
    sites: tuple[str, ...] = ()
    data_access: dict[str, tuple[str, ...]] = field(default_factory=dict)  # OMOP table -> columns
    dp: DpParams | None = None
    dataset: str = "omop"
    pinned_meta: dict[str, Any] = field(default_factory=dict)  # policy-relevant meta fields, re-checked at deploy
    secure_aggregation: bool = False  # the study declares pairwise-masking secure aggregation (node.ml.secagg)


@dataclass(frozen=True)
class Approval:
    """One person's decision on a job, bound to the digest they saw."""

    job_id: str
    approver: str
    decision: str  # "approve" or "reject"
    reason: str
    digest: str
    at: datetime
    second_factor: bool = False
    key_fingerprint: str = ""  # the approver's key (SHA256:...) when the approval was signed
    signature: str = ""  # the armored SSHSIG over ``statement``
    statement: str = ""  # the exact statement signed (policies.approver_keys.ApprovalStatement)


@dataclass(frozen=True)
class RoundReport:
    """One training round at this site, as the dashboard shows it (metrics are numbers only)."""

    job_id: str
    round: int
    metrics: dict[str, float]
    bytes_sent: int
    at: datetime


@dataclass(frozen=True)
class EgressDecision:
    """The egress guard's decision on one outgoing result."""

    job_id: str
    round: int
    allowed: bool
    reason: str
    at: datetime


@dataclass(frozen=True)
class JobRecord:
    """A job as the registry in state.db holds it."""

    job_id: str
    state: JobState
    manifest: JobManifest
    verdict: Verdict
    approvals: tuple[Approval, ...]
    required_approvals: int
    created_at: datetime
    updated_at: datetime
    state_reason: str = ""
