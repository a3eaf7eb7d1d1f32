"""The site's side of secure aggregation in the job process (:mod:`node.ml.secagg` does the cryptography).

Each securely aggregated round adds three tasks around the train task, answered by the built-in executor through
:func:`answer_task`: ``secagg_advertise`` (fresh keys signed with the site's kit key), ``secagg_share`` (every
peer's advertisement checked against this kit's root CA, then encrypted Shamir shares), ``secagg_unmask`` (shares
for the survivors' self masks or the dropped sites' mask keys, once). The train task carries the shares the peers
sent this site; the egress guard takes them out of the task (:func:`remember_train`) and, once every filter ran
and the clear update passed its checks, masks the update as the very last step (:func:`mask_result`): the site's
norm clipping and DP noise act on the clear update, the coordinator receives ring elements.

The egress guard lets a protocol message leave only if it is exactly one this process produced for the job
(:func:`message_check`), and after masking it checks the masked tensors against the task's schema with the ring's
unsigned dtype (:func:`masked_schema`): same names and shapes, nothing else. When the site policy says
``privacy.secure_aggregation: required`` (or the job declared it), a model result that was not masked is blocked.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from nvflare.apis.dxo import DXO, DataKind, from_shareable
from nvflare.apis.fl_constant import FLContextKey, ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable, make_reply
from nvflare.app_common.app_constant import AlgorithmConstants

from fednode.errors import FednodeError, SecureAggregationError, SignatureError
from node.ml.secagg import (
    ADVERTISE_TASK,
    META_KEY,
    SHARE_TASK,
    UNMASK_TASK,
    RoundContext,
    SecAggClient,
    SiteIdentity,
    TrustAnchor,
)
from node.site.context import SiteContext
from node.site.egress.rules import DXO_KEY, Schema
from policies.contracts import JobKind
from policies.policy_model import SecureAggregation

log = logging.getLogger("fednode.node.site.secagg")

_SENT_LIMIT = 16


def _canonical(message: object) -> str:
    return json.dumps(message, sort_keys=True, separators=(",", ":"))


class JobSession:
    """One job's secure-aggregation state in this process: the clients per round and the messages sent."""

    def __init__(self, job_id: str, identity: SiteIdentity, anchor: TrustAnchor) -> None:
        self.job_id = job_id
        self.identity = identity
        self.anchor = anchor
        self.clients: dict[int, SecAggClient] = {}
        self.sent: deque[str] = deque(maxlen=_SENT_LIMIT)

    def answer(self, task_name: str, payload: Mapping[str, Any], num_examples: Callable[[], int]) -> dict[str, Any]:
        """The message for one protocol task (raises :class:`SecureAggregationError` / ``SignatureError``)."""
        if task_name == ADVERTISE_TASK:
            context = RoundContext.from_json(payload.get("context") or {})
            if context.job_id != self.job_id:
                raise SecureAggregationError("advertise: the round belongs to another job")
            if context.round in self.clients:
                raise SecureAggregationError(f"advertise: round {context.round} already has keys")
            client = SecAggClient(self.identity, self.anchor, context)
            self.clients = {r: c for r, c in self.clients.items() if r > context.round - 2}
            self.clients[context.round] = client
            message = {"stage": "advertise", "round": context.round, "advert": client.advertise(num_examples())}
        elif task_name == SHARE_TASK:
            client = self.client(payload)
            adverts = payload.get("adverts")
            if not isinstance(adverts, list):
                raise SecureAggregationError("share: the task carries no advertisements")
            message = {"stage": "share", "round": client.context.round, "shares": client.share(adverts)}
        elif task_name == UNMASK_TASK:
            client = self.client(payload)
            survivors = payload.get("survivors")
            if not isinstance(survivors, list) or not all(isinstance(s, str) for s in survivors):
                raise SecureAggregationError("unmask: the task names no survivors")
            message = {"stage": "unmask", "round": client.context.round, "shares": client.unmask(survivors)}
            self.clients.pop(client.context.round, None)
        else:
            raise SecureAggregationError(f"unknown secure-aggregation task {task_name!r}")
        self.sent.append(_canonical(message))
        return message

    def client(self, payload: Mapping[str, Any]) -> SecAggClient:
        round_ = payload.get("round")
        client = self.clients.get(round_) if isinstance(round_, int) else None
        if client is None:
            raise SecureAggregationError("this site has no keys for the round the task names")
        return client


class _Sessions:
    """Job id -> :class:`JobSession`, and task id -> the train task's secure-aggregation payload."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[str, JobSession] = {}
        self.pending: OrderedDict[str, tuple[str, Mapping[str, Any]]] = OrderedDict()

    def session(self, job_id: str, make: Callable[[], JobSession]) -> JobSession:
        with self._lock:
            if job_id not in self.jobs:
                self.jobs[job_id] = make()
            return self.jobs[job_id]

    def find(self, job_id: str) -> JobSession | None:
        with self._lock:
            return self.jobs.get(job_id)

    def put_pending(self, task_id: str, job_id: str, payload: Mapping[str, Any]) -> None:
        with self._lock:
            self.pending[task_id] = (job_id, payload)
            while len(self.pending) > _SENT_LIMIT:
                self.pending.popitem(last=False)

    def pop_pending(self, task_id: str) -> tuple[str, Mapping[str, Any]] | None:
        with self._lock:
            return self.pending.pop(task_id, None)


SESSIONS = _Sessions()
"""This process's secure-aggregation state (one job per job process)."""


def _kit_startup(fl_ctx: FLContext) -> Path:
    engine = fl_ctx.get_engine()
    if engine is None:
        raise SecureAggregationError("no NVFlare engine: the site's startup kit cannot be found")
    return Path(engine.get_workspace().get_root_dir()) / "startup"


def _session(context: SiteContext, fl_ctx: FLContext, job_id: str) -> JobSession:
    def make() -> JobSession:
        startup = _kit_startup(fl_ctx)
        name = str(fl_ctx.get_identity_name() or context.site_name)
        return JobSession(job_id, SiteIdentity.from_kit(name, startup), TrustAnchor.from_kit(startup))

    return SESSIONS.session(job_id, make)


def mode_of(context: SiteContext) -> SecureAggregation:
    policy = context.policy
    return policy.privacy.secure_aggregation if policy is not None else SecureAggregation.ALLOWED


def answer_task(
    task_name: str, shareable: Shareable, fl_ctx: FLContext, context: SiteContext, num_examples: Callable[[], int]
) -> Shareable:
    """Answer one protocol task with a ``METRICS`` DXO that carries only the message (``fednode_secagg`` meta)."""
    job_id = str(fl_ctx.get_job_id() or "")
    try:
        if mode_of(context) is SecureAggregation.OFF:
            raise SecureAggregationError("this site's policy turns secure aggregation off")
        payload = from_shareable(shareable).meta.get(META_KEY)
        if not isinstance(payload, Mapping):
            raise SecureAggregationError(f"{task_name}: the task carries no secure-aggregation message")
        message = _session(context, fl_ctx, job_id).answer(task_name, payload, num_examples)
    except SignatureError as exc:
        log.error("secagg.key_substitution job=%s task=%s reason=%s", job_id, task_name, exc.message)
        return make_reply(ReturnCode.EXECUTION_EXCEPTION)
    except FednodeError as exc:
        log.error("secagg.task_failed job=%s task=%s reason=%s", job_id, task_name, exc.message)
        return make_reply(ReturnCode.EXECUTION_EXCEPTION)
    log.info("secagg.answered job=%s task=%s round=%s", job_id, task_name, message["round"])
    return DXO(DataKind.METRICS, data={}, meta={META_KEY: message}).to_shareable()


def remember_train(fl_ctx: FLContext) -> None:
    """Take the train task's secure-aggregation payload (the peers' encrypted shares for this site) out of the
    task data, keyed by task id, before the executor or job code sees the task."""
    task_data = fl_ctx.get_prop(FLContextKey.TASK_DATA)
    task_id = str(fl_ctx.get_prop(FLContextKey.TASK_ID) or "")
    dxo = task_data.get(DXO_KEY) if isinstance(task_data, Shareable) else None
    meta = dxo.get("meta") if isinstance(dxo, dict) else None
    payload = meta.get(META_KEY) if isinstance(meta, dict) else None
    if isinstance(meta, dict) and isinstance(payload, Mapping) and payload.get("stage") == "masked" and task_id:
        meta.pop(META_KEY)
        SESSIONS.put_pending(task_id, str(fl_ctx.get_job_id() or ""), payload)


def masked_schema(schema: Schema | None, dtype: np.dtype[Any]) -> Schema | None:
    """The task's expected schema for a masked result: the same names and shapes, the ring's unsigned dtype."""
    if schema is None:
        return None
    return {name: replace(spec, dtype=dtype.name) for name, spec in schema.items()}


def message_check(job_id: str) -> Callable[[object], str | None]:
    """The egress check of a ``fednode_secagg`` meta entry: exactly a message this process produced for the job."""

    def check(value: object) -> str | None:
        session = SESSIONS.find(job_id)
        if session is None or _canonical(value) not in session.sent:
            return "secure-aggregation message is not one this site's protocol produced"
        return None

    return check


def mask_result(
    context: SiteContext, result: Shareable, task_id: str, job_id: str, schema: Schema | None
) -> tuple[str | None, Schema | None]:
    """Mask a train result in place, the last step before it leaves: ``(why it must be blocked, the schema the
    masked result must now match)``; ``(None, schema)`` when the task is not securely aggregated."""
    pending = SESSIONS.pop_pending(task_id)
    dxo = result.get(DXO_KEY)
    is_model = isinstance(dxo, dict) and dxo.get("kind") in (DataKind.WEIGHTS, DataKind.WEIGHT_DIFF)
    record = context.lookup(job_id)
    declared = record is not None and record.manifest.secure_aggregation
    required = mode_of(context) is SecureAggregation.REQUIRED or declared
    if pending is None:
        if required and is_model:
            return "secure aggregation is required but this task carries no secure-aggregation round", schema
        return None, schema
    if not is_model or not isinstance(dxo, dict) or dxo.get("kind") != DataKind.WEIGHT_DIFF:
        return "a securely aggregated result must be a model difference", schema
    if record is not None and record.manifest.kind is JobKind.BYOC:
        return "secure aggregation is offered for the built-in trainer only", schema
    _, payload = pending
    session = SESSIONS.find(job_id)
    round_ = payload.get("round")
    client = session.clients.get(round_) if session is not None and isinstance(round_, int) else None
    shares = payload.get("shares")
    mine = shares.get(client.site) if client is not None and isinstance(shares, Mapping) else None
    if session is None or client is None or not isinstance(mine, Mapping):
        return "secure aggregation: this site holds no keys or shares for the round", schema
    data = dxo.get("data")
    if not isinstance(data, Mapping) or any(
        not (isinstance(v, np.ndarray) and v.dtype.kind == "f") for v in data.values()
    ):
        return "secure aggregation: the update is not floating-point arrays", schema
    meta = dxo.setdefault("meta", {})
    if meta.get(AlgorithmConstants.SCAFFOLD_CTRL_DIFF) is not None:
        return "secure aggregation cannot carry a per-site control difference", schema
    try:
        masked = client.mask(data, {str(k): str(v) for k, v in mine.items()})
    except FednodeError as exc:
        return f"secure aggregation: {exc.message}", schema
    message = {"stage": "masked", "round": client.context.round}
    dxo["data"] = masked
    meta[META_KEY] = message
    session.sent.append(_canonical(message))
    log.info("secagg.masked job=%s round=%d peers=%d", job_id, client.context.round, len(client.peers) - 1)
    return None, masked_schema(schema, client.context.ring.dtype)


__all__ = [
    "SESSIONS",
    "JobSession",
    "answer_task",
    "mask_result",
    "masked_schema",
    "message_check",
    "mode_of",
    "remember_train",
]
