"""The site's services as the NVFlare components see them: the job registry, the policy verdict, the ledger and
the signer of its approval receipts.

NVFlare builds our components from JSON arguments in ``local/resources.json`` and ``privacy.json``, so nothing
can pass them a settings object. :func:`get_flare_services` is therefore the ONE place below the edge that calls
:func:`fednode.settings.load_settings` (``FEDNODE_*`` and the TOML file), once per process, lazily, at the first
event a component handles; construction stays free of I/O because NVFlare also builds the ``resources.json``
components in every job process. Tests (and embedders) pass a :class:`FlareServices` to the components instead.

The state services themselves (state.db, audit, ledger, job registry) come from
:func:`policies.services.open_site_services`, the same wiring the CLI and the dashboard use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fednode.clock import Clock, utc_now
from fednode.errors import NotFoundError
from fednode.settings import Settings, load_settings
from node.site.receipts import ReceiptIssuer
from policies.contracts import EgressDecision, JobManifest, JobRecord, RoundReport, RuleOutcome, RuleResult, Verdict
from policies.ledger import PrivacyLedger
from policies.policy_model import SitePolicy
from policies.verdicts import SiteState, evaluate

log = logging.getLogger("fednode.node.site.context")

Evaluator = Callable[[JobManifest], Verdict]
"""The policy verdict on a job given this site's current state (clock, budget, local data)."""


class JobRegistry(Protocol):
    """The methods of :class:`policies.registry.JobService` the site components call."""

    def get(self, job_id: str) -> JobRecord: ...

    def register_pending(self, manifest: JobManifest, verdict: Verdict, *, actor: str = ...) -> JobRecord: ...

    def is_approved(self, job_id: str, digest: str) -> bool: ...

    def verify_deploy(
        self, job_id: str, digest: str, manifest: JobManifest | None = ..., *, actor: str = ...
    ) -> None: ...

    def mark_running(self, job_id: str, *, actor: str = ...) -> JobRecord: ...

    def mark_finished(self, job_id: str, spent_epsilon: float | None = ..., *, actor: str = ...) -> JobRecord: ...

    def mark_failed(self, job_id: str, reason: str, *, actor: str = ...) -> JobRecord: ...

    def mark_refused(self, job_id: str, reason: str, *, actor: str = ...) -> JobRecord: ...

    def record_round(self, report: RoundReport, *, actor: str = ...) -> None: ...

    def record_egress(self, decision: EgressDecision, *, actor: str = ...) -> None: ...


@dataclass
class FlareServices:
    """Everything the site's NVFlare components use, built once per process."""

    site_name: str
    jobs: JobRegistry
    evaluate: Evaluator
    check_timeout_s: float = 15.0
    ledger: PrivacyLedger | None = None
    policy: SitePolicy | None = None
    settings: Settings | None = None
    receipts: ReceiptIssuer | None = None
    """Signs this site's approval receipt for a job (attached to results; the egress guard checks it)."""
    closers: list[Callable[[], None]] = field(default_factory=list)

    def lookup(self, job_id: str) -> JobRecord | None:
        """The job's record, or ``None`` if this site has never seen it."""
        try:
            return self.jobs.get(job_id)
        except NotFoundError:
            return None


def no_policy_verdict(_: JobManifest) -> Verdict:
    """Without a site policy nothing is allowed."""
    return Verdict(False, (RuleResult("site_policy", RuleOutcome.DENY, "no site policy is loaded at this site"),))


def make_evaluator(
    policy: SitePolicy,
    *,
    ledger: PrivacyLedger | None,
    local_records: Callable[[], int],
    clock: Clock = utc_now,
) -> Evaluator:
    """Bind :func:`policies.verdicts.evaluate` to this site's live state (read at each call)."""

    def evaluate_job(manifest: JobManifest) -> Verdict:
        remaining: dict[str, float] = {}
        if ledger is not None:
            for dataset in policy.privacy.budgets:
                remaining[dataset] = ledger.summary(dataset).remaining_epsilon
        state = SiteState(policy=policy, now=clock(), budget_remaining=remaining, local_records=local_records())
        return evaluate(manifest, state)

    return evaluate_job


class CdmRecordCounter:
    """How many annotated notes (NOTE_NLP ``gold`` spans) the site's CDM holds; cached for ``ttl_s``."""

    QUERY = "SELECT COUNT(DISTINCT note_id) FROM note_nlp WHERE nlp_system = 'gold'"

    def __init__(self, url: str, *, ttl_s: float = 60.0) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._cached: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._ttl_s:
                return self._cached[1]
            count = self._count()
            self._cached = (now, count)
            return count

    def _count(self) -> int:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import SQLAlchemyError

        url = make_url(self._url)
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
            return 0  # no CDM yet; do not create an empty database file by connecting
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(self.QUERY)).scalar_one())
        except SQLAlchemyError as exc:  # no CDM yet: zero records (the policy's min_local_records then denies)
            log.warning("site_services.cdm_unreadable kind=%s", type(exc).__name__)
            return 0
        finally:
            engine.dispose()


_lock = threading.Lock()
_services: FlareServices | None = None


def get_flare_services() -> FlareServices:
    """The process-wide services, built from :func:`load_settings` on first use (see the module docstring)."""
    global _services
    with _lock:
        if _services is None:
            _services = build_flare_services(load_settings())
        return _services


def set_flare_services(services: FlareServices | None) -> None:
    """Install (or clear, with ``None``) the process-wide services: for embedding and tests."""
    global _services
    with _lock:
        _services = services


def build_flare_services(settings: Settings, *, clock: Clock = utc_now) -> FlareServices:
    """Open state.db, the site key and policy (``policies.services``) and bind the verdict to live site state."""
    from policies.services import open_site_services

    state = open_site_services(settings, clock=clock)
    if state.policy is not None:
        evaluator = make_evaluator(
            state.policy, ledger=state.ledger, local_records=CdmRecordCounter(settings.omop_db_url), clock=clock
        )
    else:
        log.warning("site_services.no_policy path=%s", settings.policy_path)
        evaluator = no_policy_verdict
    return FlareServices(
        site_name=state.site,
        jobs=state.jobs,
        evaluate=evaluator,
        check_timeout_s=settings.fl.check_timeout_s,
        ledger=state.ledger,
        policy=state.policy,
        settings=settings,
        receipts=ReceiptIssuer(site=state.site, jobs=state.jobs, key=state.key, audit=state.audit, clock=clock),
        closers=[state.close],
    )


class UsesFlareServices:
    """Mixin for NVFlare components: ``self.services`` is the injected services or the process-wide ones."""

    _services: FlareServices | None = None

    @property
    def services(self) -> FlareServices:
        if self._services is None:
            self._services = get_flare_services()
        return self._services
