"""state.db opened: the site's store with the audit log, privacy ledger and job registry on it, and the site key,
TOTP verifier and policy they are built with, once per process (:func:`open_state_db`). The gate, the CLI and
the dashboard all start here.

Only :func:`init_site` (``fednode site init``), the site's boot and the set-up commands create state.db and the
site key; read-only commands open with ``create=False`` and create nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fednode.clock import Clock, utc_now
from fednode.errors import NotFoundError, PolicyFileError
from fednode.settings import Settings
from policies.audit import AuditEvent, AuditLog
from policies.keys import DEFAULT_KEY_NAME, SiteKey, ensure_site_key, key_file, load_or_create_site_key, load_site_key
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
    policy_problem: str | None = None
    """Why the site policy could not be used (opened with ``tolerate_invalid_policy``); None when it was fine."""

    def close(self) -> None:
        self.store.dispose()


def signing_key_path(settings: Settings, policy: SitePolicy | None) -> Path:
    """The site key file: the policy's ``site.signing_key`` (relative to FEDNODE_HOME), else keys/site.ed25519.pem."""
    if policy is not None:
        path = policy.site.signing_key
        return path if path.is_absolute() else settings.home / path
    return settings.keys_dir / DEFAULT_KEY_NAME


def _signing_key_hint(settings: Settings) -> Path:
    """The key file an invalid policy most likely names (its raw ``site.signing_key``), else the default."""
    try:
        raw: Any = yaml.safe_load(settings.policy_path.read_text(encoding="utf-8"))
        named = raw["site"]["signing_key"]
    except Exception:  # any unreadable or malformed policy: the default key file
        return settings.keys_dir / DEFAULT_KEY_NAME
    if not isinstance(named, str) or not named.strip():
        return settings.keys_dir / DEFAULT_KEY_NAME
    path = Path(named)
    return path if path.is_absolute() else settings.home / path


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
    tolerate_invalid_policy: bool = False,
) -> StateDb:
    """Open state.db (creating it), the site key (creating it), and the services on top.

    ``create=False`` is for read-only commands: a site whose state.db or site key does not exist yet raises
    :class:`~fednode.errors.NotFoundError` (exit 4) and nothing is created.

    ``tolerate_invalid_policy`` (read-only commands: the auditor is never locked out by a typo) opens the site
    as if it had no policy when the policy file does not validate, and says why in ``policy_problem``.

    Without a site policy, nobody can approve (empty approver list) and no dataset has a budget: reads,
    audit verification and the ledger view still work.
    """
    if not create and state_url is None and not settings.state_db_path.is_file():
        raise NotFoundError(
            f"no site state at {settings.home} (state.db does not exist): this home holds no site; "
            "check FEDNODE_HOME, or set the site up with `fednode site init`"
        )
    problem: str | None = None
    key_path: Path | None = None
    if policy is None:
        try:
            policy = load_site_policy(settings, required=require_policy)
        except PolicyFileError as exc:
            if require_policy or not tolerate_invalid_policy:
                raise
            problem, key_path = exc.message, _signing_key_hint(settings)
    key_path = key_path or signing_key_path(settings, policy)
    key = load_or_create_site_key(key_path) if create else load_site_key(key_path)
    store = StateStore(state_url) if state_url else StateStore.for_path(settings.state_db_path)
    site = policy.site.name if policy is not None else settings.site_name
    audit = AuditLog(
        store,
        key,
        checkpoint_every=settings.policy.checkpoint_every,
        checkpoint_minutes=settings.policy.checkpoint_minutes,
        clock=clock,
        site=site,
    )
    if policy is not None:
        dp = policy.privacy.dp
        ledger = PrivacyLedger(
            store, audit, budgets=policy.privacy.budgets, delta=dp.delta, accountant=dp.accountant, clock=clock
        )
        rules = ApprovalRules.from_policy(policy.approval, site=policy.site.name)
    else:
        ledger = PrivacyLedger(store, audit, budgets={}, delta=1e-5, clock=clock)
        rules = ApprovalRules()
    totp = FileTotpVerifier(settings.totp_dir)
    jobs = JobService(store, audit, ledger, rules=rules, totp=totp, clock=clock)
    return StateDb(site, store, key, audit, ledger, jobs, totp, policy, problem)


@dataclass(frozen=True)
class SiteInit:
    """What :func:`init_site` found and what it created."""

    home: Path
    state_db: Path
    state_db_created: bool
    key_file: Path
    key_created: bool
    key_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "state_db": str(self.state_db),
            "state_db_created": self.state_db_created,
            "signing_key": str(self.key_file),
            "signing_key_created": self.key_created,
            "key_id": self.key_id,
            "public_key": str(self.key_file.with_suffix(".pub")),
        }


def init_site(
    settings: Settings, policy: SitePolicy | None = None, *, state_url: str | None = None, actor: str = "site"
) -> SiteInit:
    """Create this site's state.db and signing key where they do not exist yet (idempotent): the explicit
    set-up step (``fednode site init``) the boot sequence also runs. An invalid site policy is refused (it names
    the key file); a missing one is fine (the default key file). A key it creates is recorded (``key:created``,
    by ``actor``) as the first record it signs."""
    if policy is None:
        policy = load_site_policy(settings, required=False)
    db_existed = state_url is not None or settings.state_db_path.is_file()
    path = signing_key_path(settings, policy)
    key, key_created = ensure_site_key(path)
    db = open_state_db(settings, policy, state_url=state_url)
    try:
        if key_created:
            details = {"key_id": key.key_id, "key_file": key_file(path).name, "state_db_created": not db_existed}
            db.audit.append(AuditEvent.KEY_CREATED, actor=actor, details=details)
    finally:
        db.close()
    return SiteInit(
        home=settings.home,
        state_db=settings.state_db_path,
        state_db_created=not db_existed,
        key_file=key_file(path),
        key_created=key_created,
        key_id=key.key_id,
    )
