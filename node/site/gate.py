"""The approval gate: a job runs at this site only after its people approved the exact bytes.

Two NVFlare components, configured in the site's ``local/resources.json`` (verified against NVFlare 2.9.0, see
``docs/site-client.md``):

* :class:`ApprovalGate` (a ``components`` entry) in the site's parent process.

  - ``AUTHORIZE_COMMAND_CHECK`` with command ``check_resources``: the job meta arrives only here (in
    ``SECURITY_ITEMS``); it is kept, by job id, for the resource check that follows in the same request.
  - ``BEFORE_CHECK_RESOURCE_MANAGER``: a new job is recorded as pending (manifest + policy verdict); until it
    is approved for its digest ``JOB_BLOCK_REASON`` is set, so the site answers "not now" and the job stays
    submitted while the server's scheduler retries. Rejected, refused, denied or changed jobs get their own
    short reason.
  - ``AUTHORIZE_COMMAND_CHECK`` with command ``submit_job`` (the deploy): the meta is re-checked: the manifest
    must carry the approved digest and the pinned meta fields must equal what reviewers saw; otherwise the
    deploy is refused (final for the job), recorded as refused and audited.
  - ``AFTER_JOB_LAUNCH`` / ``JOB_COMPLETED``: the job is marked running / finished.

* :class:`DigestValidator` (the ``app_validator``): at deploy it hashes the unzipped app folder (the bytes that
  will run; compiled files refused) and refuses anything whose digest is not approved for this job.

No handler blocks longer than ``settings.fl.check_timeout_s``: registry calls run on a worker thread and a
timeout fails closed ("busy"; the scheduler asks again). Logs carry job ids, digests and reasons only.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

from nvflare.apis.app_validation import AppValidator
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_component import FLComponent
from nvflare.apis.fl_constant import AdminCommandNames, FLContextKey
from nvflare.apis.fl_context import FLContext

from fednode.errors import DigestMismatchError, FednodeError, JobStateError, ManifestError
from node.site.context import SiteContext, UsesSiteContext
from node.site.resume import register_new_job
from policies.contracts import JobManifest, JobRecord, JobState
from policies.manifest import folder_digest, manifest_for_site
from policies.verdicts import TRANSIENT_RULES, blocking_rules

log = logging.getLogger("fednode.node.site.gate")

T = TypeVar("T")

BLOCK_AWAITING = "fednode: awaiting approval"
BLOCK_REJECTED = "fednode: rejected by site"
BLOCK_DENIED = "fednode: denied by site policy"
BLOCK_WINDOW = "fednode: outside the allowed time window"
BLOCK_REFUSED = "fednode: refused by site"
BLOCK_CHANGED = "fednode: job changed since review"
BLOCK_NO_MANIFEST = "fednode: no reviewable manifest"
BLOCK_BAD_MANIFEST = "fednode: manifest integrity failed"
BLOCK_DONE = "fednode: job already ran here"
BLOCK_BUSY = "fednode: gate busy, will retry"
BLOCK_ERROR = "fednode: gate error"

REFUSE_NOT_APPROVED = "fednode: job is not approved at this site"
REFUSE_DIGEST = "fednode: app digest differs from the approved digest"
REFUSE_META = "fednode: job meta differs from what was reviewed"
REFUSE_TIMEOUT = "fednode: deploy check timed out"
REFUSE_ERROR = "fednode: deploy check failed"

_STATE_REASON = {
    JobState.PENDING: BLOCK_AWAITING,
    JobState.REJECTED: BLOCK_REJECTED,
    JobState.REFUSED: BLOCK_REFUSED,
    JobState.RUNNING: BLOCK_DONE,
    JobState.FINISHED: BLOCK_DONE,
    JobState.FAILED: BLOCK_DONE,
}
_MAX_STASHED = 256


class _Bounded:
    """Runs a call on one worker thread and gives up waiting after a timeout (the call may still finish)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def call(self, fn: Callable[[], T], timeout_s: float) -> T:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fednode-gate")
            pool = self._pool
        return pool.submit(fn).result(timeout=timeout_s)


class ApprovalGate(FLComponent, UsesSiteContext):  # type: ignore[misc]  # nvflare is untyped
    """Holds every job at ``check_resources`` until the site approved its digest; re-checks meta at deploy."""

    def __init__(self, *, context: SiteContext | None = None) -> None:
        super().__init__()
        self._context = context
        self._bounded = _Bounded()
        self._metas: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._metas_lock = threading.Lock()

    # --- NVFlare entry point ----------------------------------------------------------------------------------

    def handle_event(self, event_type: str, fl_ctx: FLContext) -> None:
        if event_type == EventType.AUTHORIZE_COMMAND_CHECK:
            self._on_authorize(fl_ctx)
        elif event_type == EventType.BEFORE_CHECK_RESOURCE_MANAGER:
            self._on_check_resources(fl_ctx)
        elif event_type == EventType.AFTER_JOB_LAUNCH:
            meta = fl_ctx.get_prop(FLContextKey.JOB_META) or {}
            job_id = str(meta.get("job_id") or fl_ctx.get_prop(FLContextKey.CURRENT_JOB_ID) or "")
            self._quietly("job_running", job_id, lambda: self.context.jobs.mark_running(job_id))
        elif event_type == EventType.JOB_COMPLETED:
            job_id = str(fl_ctx.get_prop(FLContextKey.CURRENT_JOB_ID) or "")
            self._quietly("job_finished", job_id, lambda: self.context.jobs.mark_finished(job_id))

    def _on_authorize(self, fl_ctx: FLContext) -> None:
        command = fl_ctx.get_prop(FLContextKey.COMMAND_NAME)
        items = fl_ctx.get_prop(FLContextKey.SECURITY_ITEMS) or {}
        meta = items.get(FLContextKey.JOB_META) if isinstance(items, Mapping) else None
        if command == AdminCommandNames.CHECK_RESOURCES and isinstance(meta, Mapping):
            self._stash(dict(meta))
        elif command == AdminCommandNames.SUBMIT_JOB:
            site = fl_ctx.get_identity_name() or self.context.site_name
            reason = self._bounded_decision(
                lambda: self.check_deploy_meta(meta if isinstance(meta, Mapping) else {}, site),
                on_timeout=REFUSE_TIMEOUT,
                on_error=REFUSE_ERROR,
            )
            if reason:
                fl_ctx.set_prop(FLContextKey.AUTHORIZATION_RESULT, False, private=True, sticky=False)
                fl_ctx.set_prop(FLContextKey.AUTHORIZATION_REASON, reason, private=True, sticky=False)

    def _on_check_resources(self, fl_ctx: FLContext) -> None:
        job_id = str(fl_ctx.get_prop(FLContextKey.CURRENT_JOB_ID) or "")
        meta = self._unstash(job_id)
        site = fl_ctx.get_identity_name() or self.context.site_name
        reason = self._bounded_decision(
            lambda: self.check_job(job_id, meta, site), on_timeout=BLOCK_BUSY, on_error=BLOCK_ERROR
        )
        if reason:
            fl_ctx.set_prop(FLContextKey.JOB_BLOCK_REASON, reason, private=True, sticky=False)

    # --- the decisions (plain methods: the tests call them directly too) ----------------------------------------

    def check_job(self, job_id: str, meta: Mapping[str, Any] | None, site: str) -> str | None:
        """The block reason for a job at ``check_resources``, or ``None`` to let it be scheduled."""
        context = self.context
        if not job_id:
            return BLOCK_NO_MANIFEST
        manifest: JobManifest | None = None
        if meta is not None:
            try:
                manifest = manifest_for_site(meta, site)
            except DigestMismatchError as exc:
                log.warning("gate.manifest_refused job=%s reason=%s", job_id, exc.message)
                if context.lookup(job_id) is not None:
                    self._refuse(job_id, "manifest integrity failed")
                return BLOCK_BAD_MANIFEST
            except ManifestError as exc:
                log.warning("gate.manifest_missing job=%s reason=%s", job_id, exc.message)
        record = context.lookup(job_id)
        if record is None:
            if manifest is None:
                return BLOCK_NO_MANIFEST
            verdict = context.evaluate(manifest)
            record = register_new_job(context.jobs, manifest, verdict, meta)  # a continued study: node.site.resume
            log.info("gate.job_pending job=%s digest=%s allowed=%s", job_id, manifest.digest, verdict.allowed)
        elif manifest is not None:
            try:  # same digest and pinned meta: returns the stored record; different: refused, audited, raises
                record = context.jobs.register_pending(manifest, record.verdict)
            except DigestMismatchError:
                log.warning("gate.job_changed job=%s", job_id)
                return BLOCK_CHANGED
        return self._by_state(record)

    def _by_state(self, record: JobRecord) -> str | None:
        if record.state is JobState.PENDING:
            if not record.verdict.allowed and not (blocking_rules(record.verdict) <= TRANSIENT_RULES):
                self._refuse(
                    record.job_id, "denied by site policy: " + ", ".join(sorted(blocking_rules(record.verdict)))
                )
                return BLOCK_DENIED
            return BLOCK_AWAITING
        if record.state is JobState.APPROVED:
            if not self.context.jobs.is_approved(record.job_id, record.manifest.digest):
                return BLOCK_AWAITING
            now = self.context.evaluate(record.manifest)  # the policy may have changed, or a window closed
            if not now.allowed:
                rules = blocking_rules(now)
                log.info("gate.job_held job=%s rules=%s", record.job_id, ",".join(sorted(rules)))
                return BLOCK_WINDOW if rules <= TRANSIENT_RULES else BLOCK_DENIED
            log.info("gate.job_released job=%s digest=%s", record.job_id, record.manifest.digest)
            return None
        return _STATE_REASON.get(record.state, BLOCK_REFUSED)

    def check_deploy_meta(self, meta: Mapping[str, Any], site: str) -> str | None:
        """The refusal reason for a deploy (``submit_job``) whose meta is not what was approved, or ``None``.

        The registry's ``verify_deploy`` compares the digest and the declared fields with pinned meta, audits
        ``digest:verified`` or ``digest:mismatch`` and refuses the job on a mismatch.
        """
        context = self.context
        job_id = str(meta.get("job_id") or "")
        record = context.lookup(job_id) if job_id else None
        if record is None or record.state is not JobState.APPROVED:
            log.warning("gate.deploy_refused job=%s reason=not_approved", job_id or "-")
            return REFUSE_NOT_APPROVED
        try:
            manifest = manifest_for_site(meta, site)
        except FednodeError as exc:
            log.warning("gate.deploy_refused job=%s reason=%s", job_id, exc.message)
            self._refuse(job_id, "deploy meta carries no valid manifest")
            return REFUSE_DIGEST
        try:
            context.jobs.verify_deploy(job_id, manifest.digest, manifest)
        except DigestMismatchError:
            log.warning(
                "gate.deploy_refused job=%s approved=%s got=%s", job_id, record.manifest.digest, manifest.digest
            )
            return REFUSE_DIGEST if manifest.digest != record.manifest.digest else REFUSE_META
        except JobStateError:
            return REFUSE_NOT_APPROVED
        return None

    # --- helpers ---------------------------------------------------------------------------------------------------

    def _refuse(self, job_id: str, reason: str) -> None:
        with contextlib.suppress(JobStateError):  # already refused, rejected or past running: nothing to change
            self.context.jobs.mark_refused(job_id, reason)

    def _stash(self, meta: dict[str, Any]) -> None:
        job_id = str(meta.get("job_id") or "")
        if not job_id:
            return
        with self._metas_lock:
            self._metas[job_id] = meta
            self._metas.move_to_end(job_id)
            while len(self._metas) > _MAX_STASHED:
                self._metas.popitem(last=False)

    def _unstash(self, job_id: str) -> dict[str, Any] | None:
        with self._metas_lock:
            return self._metas.pop(job_id, None)

    def _bounded_decision(self, decide: Callable[[], str | None], *, on_timeout: str, on_error: str) -> str | None:
        """Run a decision within the time limit; fail closed on timeout or error."""
        try:
            return self._bounded.call(decide, self.context.check_timeout_s)
        except FutureTimeout:
            log.warning("gate.timeout limit_s=%s", self.context.check_timeout_s)
            return on_timeout
        except FednodeError as exc:
            log.error("gate.error kind=%s reason=%s", exc.title, exc.message)
        except Exception as exc:  # a handler must never raise into NVFlare; fail closed
            log.error("gate.error kind=%s", type(exc).__name__)
        return on_error

    def _quietly(self, event: str, job_id: str, action: Callable[[], object]) -> None:
        if not job_id:
            return
        try:
            self._bounded.call(action, self.context.check_timeout_s)
            log.info("gate.%s job=%s", event, job_id)
        except Exception as exc:  # a lifecycle note must not break NVFlare's job handling
            log.warning("gate.%s_not_recorded job=%s kind=%s", event, job_id, type(exc).__name__)


class DigestValidator(AppValidator, UsesSiteContext):  # type: ignore[misc]  # nvflare is untyped
    """NVFlare ``app_validator``: the deployed app's bytes must hash to the digest approved for this job.

    NVFlare calls ``validate(app_folder)`` with ``<workspace>/<job_id>/app_<site>`` right after unzipping the app
    and checking its signature, before the job starts; an error string refuses the deploy (final for the job).
    """

    def __init__(self, *, context: SiteContext | None = None) -> None:
        super().__init__()
        self._context = context
        self._bounded = _Bounded()

    def validate(self, app_folder: str) -> tuple[str, dict[str, Any]]:
        folder = Path(app_folder)
        job_id = folder.parent.name
        try:
            err = self._bounded.call(lambda: self.check_folder(folder, job_id), self.context.check_timeout_s)
        except FutureTimeout:
            log.warning("validator.timeout job=%s", job_id)
            return REFUSE_TIMEOUT, {}
        except Exception as exc:  # fail closed, never raise into the deployer
            log.error("validator.error job=%s kind=%s", job_id, type(exc).__name__)
            return REFUSE_ERROR, {}
        return err, {}

    def check_folder(self, folder: Path, job_id: str) -> str:
        """ "" if the folder holds exactly the approved bytes of ``job_id``, else the refusal reason."""
        jobs = self.context.jobs
        record = self.context.lookup(job_id)
        if record is None:
            log.warning("validator.refused job=%s reason=unknown_job", job_id)
            return REFUSE_NOT_APPROVED
        try:
            digest = folder_digest(folder)
        except DigestMismatchError as exc:
            log.warning("validator.refused job=%s reason=%s", job_id, exc.message)
            with contextlib.suppress(JobStateError):
                jobs.mark_refused(job_id, f"deploy refused: {exc.message}")
            return f"fednode: {exc.message}"
        try:
            jobs.verify_deploy(job_id, digest)
        except DigestMismatchError:
            log.warning("validator.refused job=%s approved=%s got=%s", job_id, record.manifest.digest, digest)
            return REFUSE_DIGEST
        except JobStateError:
            log.warning("validator.refused job=%s reason=not_approved", job_id)
            return REFUSE_NOT_APPROVED
        log.info("validator.verified job=%s digest=%s", job_id, digest)
        return ""
