"""The site as the NVFlare components see it (:class:`SiteContext`): the job registry, the policy verdict, the
ledger and the signer of its approval receipts.

NVFlare builds our components from JSON arguments in ``local/resources.json`` and ``privacy.json``, so nothing
can pass them a settings object. :func:`get_site_context` is therefore the ONE place below the edge that calls
:func:`fednode.settings.load_settings` (``FEDNODE_*`` and the TOML file), once per process, lazily, at the first
event a component handles; construction stays free of I/O because NVFlare also builds the ``resources.json``
components in every job process. Tests (and embedders) pass a :class:`SiteContext` to the components instead.

The state itself (state.db, audit, ledger, job registry) comes from :func:`policies.state_db.open_state_db`, the
same wiring the CLI and the dashboard use; the verdict is judged in the live state :mod:`node.site.live_state`
assembles, the same one ``fednode policy check`` judges in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fednode.clock import Clock, utc_now
from fednode.errors import NotFoundError
from fednode.settings import Settings, load_settings
from node.site.anchors import SiteAnchors
from node.site.live_state import live_state_of, site_record_count
from node.site.receipts import ReceiptIssuer
from policies.anchors import AnchorStore
from policies.audit import AuditLog
from policies.contracts import EgressDecision, JobManifest, JobRecord, RoundReport, Verdict
from policies.ledger import PrivacyLedger
from policies.policy_model import SitePolicy
from policies.site_state import no_policy_verdict
from policies.state_db import open_state_db

log = logging.getLogger("fednode.node.site.context")

Evaluator = Callable[[JobManifest], Verdict]
"""The policy verdict on a job given this site's current state (clock, budget, local data)."""


class JobRegistry(Protocol):
    """The methods of :class:`policies.registry.JobService` the site components call."""

    def get(self, job_id: str) -> JobRecord: ...

    def register_pending(self, manifest: JobManifest, verdict: Verdict, *, actor: str = ...) -> JobRecord: ...

    def register_resumed(
        self, manifest: JobManifest, verdict: Verdict, first_job_id: str, *, actor: str = ...
    ) -> JobRecord: ...

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
class SiteContext:
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
    local_records: Callable[[], int] | None = None
    """The site's local record count (annotated notes): what a BYOC result's ``num_examples`` may not exceed."""
    audit: AuditLog | None = None
    """The site's audit chain (the job launcher appends ``sandbox:denied`` records to it)."""
    anchors: SiteAnchors | None = None
    """Keeps the coordinator's countersignatures of this site's audit heads that come back with tasks."""
    closers: list[Callable[[], None]] = field(default_factory=list)

    def lookup(self, job_id: str) -> JobRecord | None:
        """The job's record, or ``None`` if this site has never seen it."""
        try:
            return self.jobs.get(job_id)
        except NotFoundError:
            return None


_lock = threading.Lock()
_context: SiteContext | None = None


def get_site_context() -> SiteContext:
    """The process-wide context, built from :func:`load_settings` on first use (see the module docstring)."""
    global _context
    with _lock:
        if _context is None:
            _context = build_site_context(load_settings())
        return _context


def set_site_context(context: SiteContext | None) -> None:
    """Install (or clear, with ``None``) the process-wide context: for embedding and tests."""
    global _context
    with _lock:
        _context = context


def build_site_context(settings: Settings, *, clock: Clock = utc_now) -> SiteContext:
    """Open state.db, the site key and policy (``policies.state_db``) and bind the verdict to live site state."""
    state = open_state_db(settings, clock=clock)
    evaluator: Evaluator
    if state.policy is not None:
        evaluator = live_state_of(state, state.policy, settings, clock=clock).judge
    else:
        log.warning("context.no_policy path=%s", settings.policy_path)
        evaluator = no_policy_verdict
    return SiteContext(
        site_name=state.site,
        jobs=state.jobs,
        evaluate=evaluator,
        check_timeout_s=settings.fl.check_timeout_s,
        ledger=state.ledger,
        policy=state.policy,
        settings=settings,
        receipts=ReceiptIssuer(site=state.site, jobs=state.jobs, key=state.key, audit=state.audit, clock=clock),
        closers=[state.close],
        local_records=site_record_count(settings),
        audit=state.audit,
        anchors=SiteAnchors(
            site=state.site,
            store=AnchorStore(state.store),
            site_key_id=state.key.key_id,
            local_dirs=(settings.site_local_dir,),
        ),
    )


class UsesSiteContext:
    """Mixin for NVFlare components: ``self.context`` is the injected context or the process-wide one."""

    _context: SiteContext | None = None

    @property
    def context(self) -> SiteContext:
        if self._context is None:
            self._context = get_site_context()
        return self._context
