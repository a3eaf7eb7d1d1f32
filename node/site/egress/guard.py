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

One non-numeric meta entry may leave: the site's own signed approval receipt (``fednode_approval``), and only
after :mod:`node.site.receipts` found it to be exactly the receipt this site signed for this job.

Every decision is recorded with ``record_egress``. Reasons and logs name only expected tensor names, counts and
kinds, never a value or an unexpected key (which could itself be PHI).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nvflare.apis.event_type import EventType
from nvflare.apis.fl_component import FLComponent
from nvflare.apis.fl_constant import FLContextKey, ProcessType
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import ReservedHeaderKey, Shareable
from nvflare.app_common.app_constant import AppConstants

from node.site.context import SiteContext, UsesSiteContext
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
from node.site.receipts import ReceiptCheck, make_receipt_check
from policies.contracts import EgressDecision

log = logging.getLogger("fednode.node.site.egress.guard")


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
    """

    def __init__(self, allowed_metrics: Iterable[str] | None = None, *, context: SiteContext | None = None) -> None:
        super().__init__()
        metrics = frozenset(allowed_metrics) if allowed_metrics is not None else DEFAULT_METRICS
        self.policy = EgressPolicy(allowed_metrics=metrics)
        self._context = context
        self._pending: dict[str, Shareable] = {}

    def handle_event(self, event_type: str, fl_ctx: FLContext) -> None:
        if on_server(fl_ctx):
            return
        if event_type == EventType.AFTER_TASK_DATA_FILTER:
            remember_task(fl_ctx)
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
        try:
            receipts = receipt_check_for(self.context, job_id)
            reason = check_result(
                result, expected.schema, self.policy, runner_headers=allowed_runner, receipt_check=receipts
            )
        except Exception as exc:  # an inspection that cannot finish fails closed
            reason = f"inspection failed ({type(exc).__name__})"
        if reason is None:
            if not final:
                self._record(job_id, expected.round, True, _summary(result))
            return True
        block_in_place(result)
        for key in (ReservedHeaderKey.TASK_NAME, ReservedHeaderKey.TASK_ID):
            if final and expected.runner_headers.get(key) is not None:
                result.set_header(key, expected.runner_headers[key])
        log.warning("egress.blocked job=%s round=%s reason=%s", job_id, expected.round, reason)
        self._record(job_id, expected.round, False, reason)
        return False

    def _record(self, job_id: str, round_: int, allowed: bool, reason: str) -> None:
        record_decision(self.context, job_id, round_, allowed, reason)


def receipt_check_for(context: SiteContext, job_id: str) -> ReceiptCheck:
    """The receipt check for results of ``job_id`` at this site (its issuer, its name)."""
    return make_receipt_check(context.receipts, site=context.site_name, job_id=job_id)


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
    "on_server",
    "receipt_check_for",
    "record_decision",
    "remember_task",
    "schema_of",
]
