"""Builders shared by the state/audit/ledger/registry/receipt tests (not a test module)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.approver_keys import ApproverKey
from policies.audit import AuditLog
from policies.contracts import (
    DpParams,
    JobKind,
    JobManifest,
    ManifestFile,
    RuleOutcome,
    RuleResult,
    Verdict,
)
from policies.keys import SiteKey, load_or_create_site_key
from policies.ledger import PrivacyLedger
from policies.registry import ApprovalRules, JobService
from policies.state import StateStore

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    """A settable clock that ticks one millisecond per reading (so timestamps order)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def manifest(
    job_id: str = "job-1",
    *,
    digest: str = DIGEST_A,
    study: str = "ner-study",
    dp: DpParams | None = None,
    dataset: str = "omop_notes",
    pinned_meta: dict[str, object] | None = None,
    content: str = "print('hello')\n",
) -> JobManifest:
    return JobManifest(
        job_id=job_id,
        study=study,
        app_name="app",
        digest=digest,
        files=(ManifestFile("custom/train.py", "c" * 64, len(content), content),),
        kind=JobKind.CONFIG_ONLY,
        submitter="lead@karolinska.example / Karolinska Institutet",
        submitted_at=T0,
        rounds=3,
        min_clients=3,
        sites=("site-a", "site-b", "site-c"),
        dp=dp,
        dataset=dataset,
        pinned_meta=pinned_meta if pinned_meta is not None else {"min_clients": 3},
    )


def dp(noise: float = 1.0, sample_rate: float = 0.01, steps: int = 1000, target: float = 2.0) -> DpParams:
    return DpParams(noise, 1.0, target, 1e-5, sample_rate, steps, "rdp")


ALLOW = Verdict(True, (RuleResult("ethics", RuleOutcome.ALLOW, "ethics approval valid"),), policy_digest="p" * 64)
DENY = Verdict(
    False,
    (RuleResult("byoc", RuleOutcome.DENY, "bring-your-own-code is not allowed at this site"),),
    policy_digest="p" * 64,
)


@dataclass
class Site:
    store: StateStore
    key: SiteKey
    audit: AuditLog
    ledger: PrivacyLedger
    jobs: JobService
    clock: FakeClock


def make_site(
    db: Path,
    *,
    key: SiteKey | None = None,
    approvers: tuple[str, ...] = ("dr.hansen", "dr.larsen", "privacy.officer"),
    required: int = 1,
    totp_required: bool = False,
    totp: object | None = None,
    budget: float = 8.0,
    accountant: str = "rdp",
    checkpoint_every: int = 1000,
    identity: str = "name",
    keys: tuple[tuple[str, ApproverKey], ...] = (),
) -> Site:
    clock = FakeClock()
    store = StateStore.for_path(db)
    key = key or SiteKey.generate()
    audit = AuditLog(store, key, checkpoint_every=checkpoint_every, clock=clock)
    ledger = PrivacyLedger(store, audit, budgets={"omop_notes": budget}, delta=1e-5, accountant=accountant, clock=clock)
    rules = ApprovalRules(
        approvers=approvers,
        required_approvals=required,
        totp_required=totp_required,
        identity=identity,
        keys=keys,
        site="site-a",
    )
    jobs = JobService(store, audit, ledger, rules=rules, totp=totp, clock=clock)  # type: ignore[arg-type]
    return Site(store, key, audit, ledger, jobs, clock)


def load_key_in_process(path: str, out: str) -> None:
    """Spawned by the key-race test: load or create the key, write its id to ``out``."""
    Path(out).write_text(load_or_create_site_key(Path(path)).key_id)
