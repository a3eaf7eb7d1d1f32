"""What may leave a site: the pure rules the egress guard and the schema filter apply to a task result.

:func:`check_result` says why a result (an NVFlare ``Shareable`` as a mapping) may not leave, or ``None``:
only NVFlare's own headers with valid values, one DXO of an allowed kind, model tensors with exactly the expected
names, shapes and dtypes, allow-listed finite scalar metrics, known meta entries, and the site's own signed approval
receipt and signed audit head where :mod:`node.site.receipts` vouches for them. Reasons name only expected names,
counts and kinds, never a value or an unexpected key (which could itself be PHI).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from nvflare.apis.dxo import DataKind, MetaKey
from nvflare.apis.filter import Filter
from nvflare.apis.fl_constant import ReservedKey, ReturnCode
from nvflare.apis.shareable import ReservedHeaderKey, Shareable
from nvflare.app_common.app_constant import AlgorithmConstants, AppConstants

from node.kit.crosssite import CROSS_SITE_METRICS
from node.kit.meta import HEAD_META_KEY, RECEIPT_META_KEY
from node.ml.secagg import META_KEY as SECAGG_META_KEY
from node.site.receipts import ReceiptCheck

DEFAULT_METRICS = (
    frozenset(
        {
            "loss",
            "train_loss",
            "val_loss",
            "precision",
            "recall",
            "f1",
            "accuracy",
            "val_precision",
            "val_recall",
            "val_f1",
            "dev_precision",
            "dev_recall",
            "dev_f1",
            "num_examples",
            "epsilon",
            "steps",
            "seconds",
        }
    )
    | CROSS_SITE_METRICS
)
"""Scalar metrics a result may carry unless the site policy names others (with the closed set of cross-site
evaluation's names, :data:`node.kit.crosssite.CROSS_SITE_METRICS`)."""

NUMERIC_DTYPES = frozenset(
    {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}
    | {"uint32", "uint64"}
)
"""``uint32``/``uint64``: securely aggregated results are ring elements (``node.site.secagg``); the schema the guard
checks them against then names that dtype explicitly, so a float result can never pass as one or vice versa."""
_INT_META = frozenset(
    {MetaKey.NUM_STEPS_CURRENT_ROUND, MetaKey.CURRENT_ROUND, MetaKey.TOTAL_ROUNDS, MetaKey.START_ROUND}
)
_INT_HEADERS = frozenset({AppConstants.CURRENT_ROUND, AppConstants.NUM_ROUNDS, AppConstants.START_ROUND})
_RETURN_CODES = frozenset(v for k, v in vars(ReturnCode).items() if k.isupper() and isinstance(v, str))
_RUNNER_HEADERS = (
    ReservedHeaderKey.TASK_NAME,
    ReservedHeaderKey.TASK_ID,
    ReservedHeaderKey.COOKIE_JAR,
    ReservedHeaderKey.AUDIT_EVENT_ID,
)
_NVFLARE_HEADER_NAMES = frozenset(
    v for cls in (ReservedHeaderKey, ReservedKey) for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)
)
"""NVFlare's own header names: safe to name in a reason (a job's own header name could itself be PHI)."""
AUDIT_ID = re.compile(r"[0-9A-Fa-f-]{1,64}")
DXO_KEY = "DXO"
_MAX_FILTER_HISTORY = 32


@dataclass(frozen=True)
class TensorSpec:
    """The form one tensor must keep: shape and dtype name (numpy spelling)."""

    shape: tuple[int, ...]
    dtype: str


Schema = dict[str, TensorSpec]


def dtype_name(value: Any) -> str | None:
    """The numpy-style dtype name of an array or torch tensor, or ``None`` if ``value`` is neither."""
    if isinstance(value, np.ndarray):
        return str(value.dtype) if value.dtype.kind in "biuf" else f"non-numeric:{value.dtype.kind}"
    module = type(value).__module__
    if module.startswith("torch") and hasattr(value, "dtype") and hasattr(value, "shape"):
        return str(value.dtype).removeprefix("torch.")
    return None


def spec_of(value: Any) -> TensorSpec | None:
    """The spec of a numeric array/tensor, or ``None`` for anything else."""
    name = dtype_name(value)
    if name is None or name not in NUMERIC_DTYPES:
        return None
    return TensorSpec(shape=tuple(int(d) for d in value.shape), dtype=name)


def schema_of(task_data: Shareable) -> Schema | None:
    """The expected result schema from the task data (a DXO of model tensors), or ``None`` if it has none."""
    dxo = task_data.get(DXO_KEY) if isinstance(task_data, Mapping) else None
    if not isinstance(dxo, Mapping) or dxo.get("kind") not in (DataKind.WEIGHTS, DataKind.WEIGHT_DIFF):
        return None
    data = dxo.get("data")
    if not isinstance(data, Mapping) or not data:
        return None
    schema: Schema = {}
    for name, value in data.items():
        spec = spec_of(value)
        if not isinstance(name, str) or spec is None:
            return None
        schema[name] = spec
    return schema


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(float(value))
    if isinstance(value, np.generic | np.ndarray) and getattr(value, "ndim", 0) == 0:
        return value.dtype.kind in "iuf" and bool(np.isfinite(value))
    return False


def _loaded_filter_names() -> frozenset[str]:
    """Class names of every NVFlare ``Filter`` subclass loaded in this process (what ``filter_history`` holds)."""
    seen: set[str] = set()
    stack: list[type] = [Filter]
    while stack:
        cls = stack.pop()
        subclasses: list[type] = cls.__subclasses__()
        for sub in subclasses:
            if sub.__name__ not in seen:
                seen.add(sub.__name__)
                stack.append(sub)
    return frozenset(seen)


@dataclass(frozen=True)
class EgressPolicy:
    """What may leave: the allowed metric names and DXO kinds; whether a model result needs a known schema."""

    allowed_metrics: frozenset[str] = DEFAULT_METRICS
    allowed_kinds: frozenset[str] = frozenset({DataKind.WEIGHTS, DataKind.WEIGHT_DIFF, DataKind.METRICS})


def check_result(
    result: Mapping[str, Any],
    expected: Schema | None,
    policy: EgressPolicy,
    *,
    runner_headers: Mapping[str, Any] | None = None,
    receipt_check: ReceiptCheck | None = None,
    head_check: ReceiptCheck | None = None,
    secagg_check: ReceiptCheck | None = None,
) -> str | None:
    """Why ``result`` may not leave the site, or ``None`` if it may.

    ``runner_headers`` are headers NVFlare's runner adds after the filters (task name and id, cookie jar, audit id):
    allowed only with exactly these values. ``receipt_check`` judges a signed approval receipt in the meta
    (:func:`node.site.receipts.make_receipt_check`); without one, a receipt is blocked like any other text.
    ``head_check`` judges the site's signed audit head in the meta (:func:`node.site.receipts.make_head_check`),
    the same way. ``secagg_check`` judges a secure-aggregation message in the meta (``fednode_secagg``:
    :func:`node.site.secagg.message_check`, exactly a message this site's protocol produced).
    """
    extra_keys = [k for k in result if k not in (ReservedHeaderKey.HEADERS, DXO_KEY)]
    if extra_keys:
        return f"unexpected top-level entries ({len(extra_keys)})"
    reason = _check_headers(result.get(ReservedHeaderKey.HEADERS), runner_headers or {})
    if reason:
        return reason
    headers = result.get(ReservedHeaderKey.HEADERS) or {}
    rc = headers.get(ReservedHeaderKey.RC, ReturnCode.OK)
    dxo = result.get(DXO_KEY)
    if dxo is None:
        return None if rc != ReturnCode.OK else "result carries no data"
    if headers.get(ReservedHeaderKey.CONTENT_TYPE) != "DXO":
        return "DXO without its content type"
    if not isinstance(dxo, Mapping) or set(dxo) - {"kind", "data", "meta"}:
        return "malformed DXO"
    kind = dxo.get("kind")
    if kind not in policy.allowed_kinds:
        return "DXO kind not allowed"
    data = dxo.get("data")
    if not isinstance(data, Mapping):
        return "DXO data is not a mapping"
    reason = _check_metrics(data, policy) if kind == DataKind.METRICS else _check_tensors(data, expected)
    return reason or _check_meta(dxo.get("meta") or {}, policy, expected, receipt_check, head_check, secagg_check)


def _check_headers(headers: object, runner_headers: Mapping[str, Any]) -> str | None:
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        return "headers are not a mapping"
    for key, value in headers.items():
        if key in runner_headers:
            if value != runner_headers[key]:
                return f"header {key} changed after the filters"
        elif key == ReservedHeaderKey.CONTENT_TYPE:
            if value != "DXO":
                return "content type is not DXO"
        elif key == ReservedHeaderKey.RC:
            if value not in _RETURN_CODES:
                return "unknown return code"
        elif key in _INT_HEADERS:
            if not isinstance(value, int) or isinstance(value, bool):
                return f"header {key} is not an integer"
        else:
            return f"unexpected header {key}" if key in _NVFLARE_HEADER_NAMES else "unexpected header"
    return None


def _check_tensors(data: Mapping[Any, Any], expected: Schema | None) -> str | None:
    if expected is None:
        return "no global model was seen to compare the result with"
    if not data:
        return "model result is empty"
    unexpected = [k for k in data if not isinstance(k, str) or k not in expected]
    if unexpected:
        return f"unexpected tensor names ({len(unexpected)} of {len(data)})"
    for name, value in data.items():
        spec = spec_of(value)
        if spec is None:
            return f"tensor {name} is not a numeric array"
        want = expected[name]
        if spec.dtype != want.dtype:
            return f"tensor {name} has dtype {spec.dtype}, expected {want.dtype}"
        if spec.shape != want.shape:
            return f"tensor {name} has shape {list(spec.shape)}, expected {list(want.shape)}"
    return None


def _check_metrics(data: Mapping[Any, Any], policy: EgressPolicy) -> str | None:
    bad = [k for k in data if not isinstance(k, str) or k not in policy.allowed_metrics]
    if bad:
        return f"metrics not on the allow-list ({len(bad)})"
    if not all(_is_number(v) for v in data.values()):
        return "a metric is not a finite number"
    return None


def _check_meta(
    meta: object,
    policy: EgressPolicy,
    expected: Schema | None,
    receipt_check: ReceiptCheck | None,
    head_check: ReceiptCheck | None = None,
    secagg_check: ReceiptCheck | None = None,
) -> str | None:
    if not isinstance(meta, Mapping):
        return "DXO meta is not a mapping"
    for key, value in meta.items():
        if key in _INT_META:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                return f"meta {key} is not a non-negative integer"
        elif key == MetaKey.INITIAL_METRICS:
            if not isinstance(value, Mapping) or _check_metrics(value, policy):
                return "initial metrics are not allowed numbers"
        elif key == AlgorithmConstants.SCAFFOLD_CTRL_DIFF:
            if not isinstance(value, Mapping) or _check_tensors(value, expected):
                return "SCAFFOLD control difference does not match the model"
        elif key == MetaKey.FILTER_HISTORY:
            if not _valid_filter_history(value):
                return "filter history names something that is not a loaded filter"
        elif key == RECEIPT_META_KEY:
            reason = receipt_check(value) if receipt_check is not None else "approval receipt cannot be checked here"
            if reason:
                return reason
        elif key == SECAGG_META_KEY:
            reason = secagg_check(value) if secagg_check is not None else "secure-aggregation message cannot be checked"
            if reason:
                return reason
        elif key == HEAD_META_KEY:
            reason = head_check(value) if head_check is not None else "audit head cannot be checked here"
            if reason:
                return reason
        elif isinstance(key, str) and key in policy.allowed_metrics:
            if not _is_number(value):
                return f"meta metric {key} is not a finite number"
        else:
            return "unexpected meta entry"
    return None


def _valid_filter_history(value: object) -> bool:
    if not isinstance(value, list) or len(value) > _MAX_FILTER_HISTORY:
        return False
    names = _loaded_filter_names()
    return all(isinstance(v, str) and v in names for v in value)


def block_in_place(result: Shareable) -> None:
    """Empty ``result`` (data, meta, headers) and mark it as an error reply: nothing of it can leave."""
    result.clear()
    result[ReservedHeaderKey.HEADERS] = {}
    result.set_return_code(ReturnCode.EXECUTION_RESULT_ERROR)
