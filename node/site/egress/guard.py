"""The egress guard: nothing leaves the site but numeric model tensors of the expected form and allowed metrics.

:class:`EgressGuard` is an NVFlare component for the site's ``privacy.json`` ``components`` list: those are the
only site-configured objects NVFlare 2.9 registers as event handlers in the job process (``local/resources.json``
components are not). There it sees

* ``AFTER_TASK_DATA_FILTER``: the global model sent down; its tensor names, shapes and dtypes become the expected
  schema of this task's result;
* ``AFTER_TASK_RESULT_FILTER``: the result after *all* filters, the site's and the job's own (site filters run
  first, so a filter alone cannot be last); a result that fails :func:`node.site.egress.rules.check_result` is
  emptied in place and turned into an ``EXECUTION_RESULT_ERROR`` reply, so nothing of it leaks;
* ``BEFORE_SEND_TASK_RESULT``: the same object again, re-checked just before it is sent, in case job code held a
  reference and changed it after the filters.

Two non-numeric meta entries may leave: the site's own signed approval receipt (``fednode_approval``) and its
signed audit head (``fednode_audit_head``), each only after :mod:`node.site.receipts` found it to be exactly what
this site signed. On the way in, the coordinator's countersigned anchors of the site's audit heads
(``fednode_anchors`` in the task's meta) are taken out of the task data and kept (:mod:`node.site.anchors`)
before any executor or job code sees the task.

Bring-your-own-code results are then *released* (:mod:`node.site.egress.byoc`, :mod:`node.site.release`): model
values stochastically rounded to a reduced precision, metrics range-checked and rounded, integers bounded, and,
when the policy requires DP, the update clipped and noised by the site, which charges its own accountant first.
The guard keeps a copy of each BYOC task's global model for that, and at ``BEFORE_SEND_TASK_RESULT`` the result
must still be exactly what it released. Config-only jobs (the reviewed built-in trainer) keep the checks alone.

Every decision is recorded with ``record_egress``. Reasons and logs name only expected tensor names, counts and
kinds, never a value or an unexpected key (which could itself be PHI).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nvflare.apis.dxo import DataKind
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_component import FLComponent
from nvflare.apis.fl_constant import FLContextKey, ProcessType
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import ReservedHeaderKey, Shareable
from nvflare.app_common.app_constant import AppConstants

from fednode.errors import BudgetExceededError, EgressBlockedError
from node.kit.meta import ANCHORS_META_KEY, HEAD_META_KEY, RECEIPT_META_KEY
from node.site.context import SiteContext, UsesSiteContext
from node.site.egress.byoc import REFERENCES, Charge, ReleaseConfig, fingerprint, release_result, remember_reference
from node.site.egress.rules import (
    AUDIT_ID,
    DEFAULT_METRICS,
    DXO_KEY,
    EgressPolicy,
    Schema,
    block_in_place,
    check_result,
    schema_of,
)
from node.site.receipts import ReceiptCheck, make_head_check, make_receipt_check
from node.site.release import ReleaseBounds, SiteAccountant, secure_generator
from node.site.secagg import mask_result, message_check, remember_train
from policies.contracts import EgressDecision, JobKind, JobRecord

log = logging.getLogger("fednode.node.site.egress.guard")

MODEL_KINDS = frozenset({DataKind.WEIGHTS, DataKind.WEIGHT_DIFF})


# --- the per-process record of what each task expects --------------------------------------------------------


@dataclass(frozen=True)
class TaskExpectation:
    """What one task's result may look like: the model schema, the round, and the headers NVFlare's runner adds
    after the filters (task name and id, the task's cookie jar), with their exact values."""

    schema: Schema | None
    round: int
    runner_headers: Mapping[str, Any]


_UNKNOWN_TASK = TaskExpectation(schema=None, round=-1, runner_headers={})


class _Expectations:
    """Task id -> :class:`TaskExpectation`; bounded, shared by the guard and the schema filter in one process."""

    def __init__(self, limit: int = 64) -> None:
        self._items: OrderedDict[str, TaskExpectation] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def put(self, task_id: str, expectation: TaskExpectation) -> None:
        with self._lock:
            self._items[task_id] = expectation
            self._items.move_to_end(task_id)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def get(self, task_id: str) -> TaskExpectation:
        with self._lock:
            return self._items.get(task_id, _UNKNOWN_TASK)


EXPECTED = _Expectations()
"""This process's expectations, keyed by NVFlare task id (one job per job process)."""


def on_server(fl_ctx: FLContext) -> bool:
    """True in a server process: the site components act on what leaves a site, never on what a server receives
    (NVFlare's simulator copies one ``local/`` folder to the server and every site)."""
    return fl_ctx.get_process_type() in (ProcessType.SERVER_PARENT, ProcessType.SERVER_JOB)


def remember_task(fl_ctx: FLContext) -> None:
    """Record what the result of the task now in ``fl_ctx`` (``TASK_DATA``, ``TASK_ID``, ``TASK_NAME``) may be."""
    task_data = fl_ctx.get_prop(FLContextKey.TASK_DATA)
    task_id = str(fl_ctx.get_prop(FLContextKey.TASK_ID) or "")
    if not isinstance(task_data, Shareable) or not task_id:
        return
    round_ = task_data.get_header(AppConstants.CURRENT_ROUND, -1)
    runner_headers: dict[str, Any] = {
        ReservedHeaderKey.TASK_NAME: fl_ctx.get_prop(FLContextKey.TASK_NAME),
        ReservedHeaderKey.TASK_ID: task_id,
    }
    cookie_jar = task_data.get_cookie_jar()
    if cookie_jar:
        runner_headers[ReservedHeaderKey.COOKIE_JAR] = cookie_jar
    EXPECTED.put(
        task_id,
        TaskExpectation(schema_of(task_data), round_ if isinstance(round_, int) else -1, runner_headers),
    )


class EgressGuard(FLComponent, UsesSiteContext):  # type: ignore[misc]  # nvflare is untyped
    """Checks every task result after all filters and again before it is sent; blocks and audits failures.

    Args (JSON, from ``privacy.json``):
        allowed_metrics: scalar metric names a result may carry (default :data:`DEFAULT_METRICS`).
        release: how BYOC results are released (:meth:`node.site.egress.byoc.ReleaseConfig.from_args`:
            ``mantissa_bits``, ``dp_required``, ``site_dp``); compiled from the site policy.
    """

    def __init__(
        self,
        allowed_metrics: Iterable[str] | None = None,
        release: Mapping[str, Any] | None = None,
        *,
        context: SiteContext | None = None,
    ) -> None:
        super().__init__()
        metrics = frozenset(allowed_metrics) if allowed_metrics is not None else DEFAULT_METRICS
        self.policy = EgressPolicy(allowed_metrics=metrics)
        self.release = ReleaseConfig.from_args(release)
        self._context = context
        self._pending: dict[str, Shareable] = {}
        self._released: dict[str, str] = {}  # task id -> fingerprint of the released BYOC result
        self._byoc: dict[str, bool] = {}  # job id -> whether its results are released
        self._rng = secure_generator()

    def handle_event(self, event_type: str, fl_ctx: FLContext) -> None:
        if on_server(fl_ctx):
            return
        if event_type == EventType.AFTER_TASK_DATA_FILTER:
            take_anchors(self.context, fl_ctx)
            remember_task(fl_ctx)
            remember_train(fl_ctx)
            task_data = fl_ctx.get_prop(FLContextKey.TASK_DATA)
            task_id = str(fl_ctx.get_prop(FLContextKey.TASK_ID) or "")
            if isinstance(task_data, Shareable) and task_id and self.is_byoc(str(fl_ctx.get_job_id() or "")):
                remember_reference(task_id, task_data)
        elif event_type == EventType.AFTER_TASK_RESULT_FILTER:
            result = fl_ctx.get_prop(FLContextKey.TASK_RESULT)
            task_id = str(fl_ctx.get_prop(FLContextKey.TASK_ID) or "")
            if isinstance(result, Shareable) and self.inspect(result, task_id, fl_ctx, final=False):
                self._pending[task_id] = result
        elif event_type == EventType.BEFORE_SEND_TASK_RESULT:
            for task_id, result in list(self._pending.items()):
                self._pending.pop(task_id, None)
                self.inspect(result, task_id, fl_ctx, final=True)

    def inspect(self, result: Shareable, task_id: str, fl_ctx: FLContext, *, final: bool) -> bool:
        """Check ``result``; block it in place and audit if it fails. Returns whether it passed.

        ``final`` is the check just before sending, when NVFlare's runner has added the task name and id, the
        task's cookie jar and an audit event id: those must carry exactly the values the runner adds.
        """
        expected = EXPECTED.get(task_id)
        allowed_runner: dict[str, Any] = dict(expected.runner_headers) if final else {}
        if final:  # the runner's audit id (a UUID, or None without an audit service) replaced any earlier value
            audit_id = (result.get(ReservedHeaderKey.HEADERS) or {}).get(ReservedHeaderKey.AUDIT_EVENT_ID)
            if audit_id is None or (isinstance(audit_id, str) and AUDIT_ID.fullmatch(audit_id)):
                allowed_runner[ReservedHeaderKey.AUDIT_EVENT_ID] = audit_id
        job_id = str(fl_ctx.get_job_id() or "")
        summary = ""
        try:
            receipts = receipt_check_for(self.context, job_id)
            heads = head_check_for(self.context)
            reason = check_result(
                result,
                expected.schema,
                self.policy,
                runner_headers=allowed_runner,
                receipt_check=receipts,
                head_check=heads,
                secagg_check=message_check(job_id),
            )
            if reason is None and self.is_byoc(job_id):
                reason, summary = self._release(result, task_id, job_id, final=final)
            if reason is None and not final:  # secure aggregation masks the checked update: the last step
                reason, schema = mask_result(self.context, result, task_id, job_id, expected.schema)
                if reason is None and schema is not expected.schema:
                    EXPECTED.put(task_id, replace(expected, schema=schema))
        except Exception as exc:  # an inspection that cannot finish fails closed
            reason = f"inspection failed ({type(exc).__name__})"
        if reason is None:
            if not final:
                self._record(job_id, expected.round, True, summary or _summary(result))
            return True
        REFERENCES.drop(task_id)
        self._released.pop(task_id, None)
        block_in_place(result)
        for key in (ReservedHeaderKey.TASK_NAME, ReservedHeaderKey.TASK_ID):
            if final and expected.runner_headers.get(key) is not None:
                result.set_header(key, expected.runner_headers[key])
        log.warning("egress.blocked job=%s round=%s reason=%s", job_id, expected.round, reason)
        self._record(job_id, expected.round, False, reason)
        return False

    def requires_materialized_task_result(self, task_name: str) -> bool:
        """Asked by NVFlare's ``ClientAPIExecutor``: the guard inspects the concrete result, so a Client API
        result in pass-through (``LazyDownloadRef`` placeholders) is decoded in this process first."""
        return True

    def is_byoc(self, job_id: str) -> bool:
        """Whether ``job_id``'s results are released: BYOC jobs, and any job this site has no record of."""
        if job_id not in self._byoc:
            record = self.context.lookup(job_id)
            self._byoc[job_id] = record is None or record.manifest.kind is JobKind.BYOC
        return self._byoc[job_id]

    def _release(self, result: Shareable, task_id: str, job_id: str, *, final: bool) -> tuple[str | None, str]:
        """(why blocked or None, summary): release a BYOC result, or check just before sending that it is still
        exactly what was released."""
        if final:
            released = self._released.pop(task_id, None)
            if released is None or fingerprint(result) != released:
                return "result changed after its release", ""
            return None, ""
        record = self.context.lookup(job_id)
        local_records = self.context.local_records
        bounds = ReleaseBounds(
            rounds=record.manifest.rounds if record is not None else 0,
            local_records=local_records() if local_records is not None else 0,
        )
        try:
            summary = release_result(
                result,
                config=self.release,
                bounds=bounds,
                reference=REFERENCES.get(task_id),
                charge=self._charge(job_id, record),
                rng=self._rng,
            )
        except (EgressBlockedError, BudgetExceededError) as exc:
            return f"release: {exc.message}", ""
        REFERENCES.drop(task_id)
        self._attach_receipt(result, job_id)
        self._released[task_id] = fingerprint(result)
        return None, summary

    def _attach_receipt(self, result: Shareable, job_id: str) -> None:
        """A released BYOC model result carries the site's own signed approval receipt and a fresh signed head of
        its audit chain, as the built-in trainer's do (job code cannot sign them; the coordinator puts the receipt
        in the model's provenance and keeps the head)."""
        dxo = result.get(DXO_KEY)
        issuer = self.context.receipts
        if issuer is None or not isinstance(dxo, dict) or dxo.get("kind") not in MODEL_KINDS:
            return
        receipt = issuer.for_job(job_id)
        if receipt is not None:
            dxo.setdefault("meta", {})[RECEIPT_META_KEY] = receipt
        head = issuer.signed_head()
        if head is not None:
            dxo.setdefault("meta", {})[HEAD_META_KEY] = head

    def _charge(self, job_id: str, record: JobRecord | None) -> Charge | None:
        """One round on the site's own accountant for ``job_id`` (its steps in the ledger), when site DP is on."""
        ledger = self.context.ledger
        if self.release.site_dp is None or ledger is None or record is None:
            return None
        accountant = SiteAccountant(
            ledger, job_id, record.manifest.dataset, self.release.site_dp, self.release.max_epsilon_per_job
        )
        return lambda: accountant.charge_round(actor="egress_guard")

    def _record(self, job_id: str, round_: int, allowed: bool, reason: str) -> None:
        record_decision(self.context, job_id, round_, allowed, reason)


def take_anchors(context: SiteContext, fl_ctx: FLContext) -> None:
    """Take the coordinator's countersigned anchors out of the task data in ``fl_ctx`` and keep this site's
    (:class:`node.site.anchors.SiteAnchors`); a failure is logged, never raised (the task still runs)."""
    task_data = fl_ctx.get_prop(FLContextKey.TASK_DATA)
    dxo = task_data.get(DXO_KEY) if isinstance(task_data, Shareable) else None
    meta = dxo.get("meta") if isinstance(dxo, dict) else None
    if not isinstance(meta, dict) or ANCHORS_META_KEY not in meta:
        return
    if context.anchors is None:
        meta.pop(ANCHORS_META_KEY, None)
        return
    try:
        engine = fl_ctx.get_engine()
        root = Path(engine.get_workspace().get_root_dir()) if engine is not None else None
    except Exception:  # no workspace in this process: the kit's local/ folders configured in the context
        root = None
    try:
        context.anchors.take(meta, root)
    except Exception as exc:  # keeping the countersignature must not stop the task
        meta.pop(ANCHORS_META_KEY, None)
        log.error("anchors.keep_failed kind=%s", type(exc).__name__)


def receipt_check_for(context: SiteContext, job_id: str) -> ReceiptCheck:
    """The receipt check for results of ``job_id`` at this site (its issuer, its name)."""
    return make_receipt_check(context.receipts, site=context.site_name, job_id=job_id)


def head_check_for(context: SiteContext) -> ReceiptCheck:
    """The signed audit head check for results at this site (its issuer, its name)."""
    return make_head_check(context.receipts, site=context.site_name)


def record_decision(context: SiteContext, job_id: str, round_: int, allowed: bool, reason: str) -> None:
    """Record one egress decision in the registry (audited there); a failed write is logged, never raised."""
    decision = EgressDecision(job_id=job_id, round=round_, allowed=allowed, reason=reason, at=datetime.now(UTC))
    try:
        context.jobs.record_egress(decision)
    except Exception as exc:  # the decision already took effect; the audit failure is reported, not raised
        log.error("egress.audit_failed job=%s kind=%s", job_id, type(exc).__name__)


def _summary(result: Mapping[str, Any]) -> str:
    dxo = result.get(DXO_KEY)
    if not isinstance(dxo, Mapping):
        return "passed: no data"
    data = dxo.get("data") or {}
    kind = dxo.get("kind")
    return f"passed: {getattr(kind, 'value', kind)} with {len(data)} entries"


__all__ = [
    "DEFAULT_METRICS",
    "EXPECTED",
    "EgressGuard",
    "EgressPolicy",
    "TaskExpectation",
    "block_in_place",
    "check_result",
    "head_check_for",
    "on_server",
    "receipt_check_for",
    "record_decision",
    "remember_task",
    "schema_of",
]
