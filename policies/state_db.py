"""state.db opened: the site's store with the audit log, privacy ledger and job registry on it, and the site key,
TOTP verifier and policy they are built with, once per process (:func:`open_state_db`). The gate, the CLI and
the dashboard all start here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fednode.clock import Clock, utc_now
from fednode.errors import NotFoundError
from fednode.settings import Settings
from policies.audit import AuditLog
from policies.keys import DEFAULT_KEY_NAME, SiteKey, load_or_create_site_key
from policies.ledger import PrivacyLedger
from policies.policy_model import SitePolicy, load_policy
from policies.registry import ApprovalRules, JobService
from policies.state import StateStore
from policies.totp import FileTotpVerifier


@dataclass
class StateDb:
    """Everything that reads or writes state.db, sharing one store."""

    site: str
    store: StateStore
    key: SiteKey
    audit: AuditLog
    ledger: PrivacyLedger
    jobs: JobService
    totp: FileTotpVerifier
    policy: SitePolicy | None

    def close(self) -> None:
        self.store.dispose()


def signing_key_path(settings: Settings, policy: SitePolicy | None) -> Path:
    """The site key file: the policy's ``site.signing_key`` (relative to FEDNODE_HOME), else keys/site.ed25519.pem."""
    if policy is not None:
        path = policy.site.signing_key
        return path if path.is_absolute() else settings.home / path
    return settings.keys_dir / DEFAULT_KEY_NAME


def load_site_policy(settings: Settings, *, required: bool) -> SitePolicy | None:
    """The site policy at ``settings.policy_path``; None when it does not exist and ``required`` is false."""
    path = settings.policy_path
    if not path.exists() and not required:
        return None
    return load_policy(path)


def open_state_db(
    settings: Settings,
    policy: SitePolicy | None = None,
    *,
    require_policy: bool = False,
    clock: Clock = utc_now,
    state_url: str | None = None,
    create: bool = True,
) -> StateDb:
    """Open state.db (creating it), the site key (creating it), and the services on top.

    ``create=False`` is for read-only commands: a site whose state.db does not exist yet raises
    :class:`~fednode.errors.NotFoundError` (exit 4) and nothing is created.

    Without a site policy, nobody can approve (empty approver list) and no dataset has a budget: reads,
    audit verification and the ledger view still work.
    """
    if not create and state_url is None and not settings.state_db_path.is_file():
        raise NotFoundError(
            f"no site state at {settings.home} (state.db does not exist): nothing to read; "
            "a site creates it when it starts (fednode site start) or first holds a job"
        )
    if policy is None:
        policy = load_site_policy(settings, required=require_policy)
    store = StateStore(state_url) if state_url else StateStore.for_path(settings.state_db_path)
    key = load_or_create_site_key(signing_key_path(settings, policy))
    audit = AuditLog(store, key, checkpoint_every=settings.policy.checkpoint_every, clock=clock)
    if policy is not None:
        dp = policy.privacy.dp
        ledger = PrivacyLedger(
            store, audit, budgets=policy.privacy.budgets, delta=dp.delta, accountant=dp.accountant, clock=clock
        )
        rules = ApprovalRules.from_policy(policy.approval)
    else:
        ledger = PrivacyLedger(store, audit, budgets={}, delta=1e-5, clock=clock)
        rules = ApprovalRules()
    totp = FileTotpVerifier(settings.keys_dir / "totp")
    jobs = JobService(store, audit, ledger, rules=rules, totp=totp, clock=clock)
    site = policy.site.name if policy is not None else settings.site_name
    return StateDb(site, store, key, audit, ledger, jobs, totp, policy)
