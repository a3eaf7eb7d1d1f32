"""The release step the egress guard applies to every bring-your-own-code result, after every filter.

:func:`release_result` applies :mod:`node.site.release` to a result that already passed
:func:`node.site.egress.rules.check_result` (its form), in place:

* model tensors (``WEIGHTS``: the update against the global model this task received; ``WEIGHT_DIFF``: the
  update itself) and SCAFFOLD control differences are stochastically rounded, and, when the site policy requires
  DP, clipped and noised together by the site, which charges its own accountant *before* anything is released;
* metrics (a ``METRICS`` result, metric meta entries, ``initial_metrics``) are range-checked and rounded;
* integers in headers and meta are bounded by the approved rounds and the step limit.

:func:`fingerprint` is what the guard compares just before sending: the released result must be unchanged.
Config-only jobs (the built-in, reviewed trainer with DP-SGD from the site policy) keep the egress checks alone.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from nvflare.apis.dxo import DataKind, MetaKey
from nvflare.apis.shareable import ReservedHeaderKey
from nvflare.app_common.app_constant import AlgorithmConstants, AppConstants

from fednode.errors import EgressBlockedError
from node.kit.meta import RECEIPT_META_KEY
from node.site.egress.rules import DXO_KEY
from node.site.release import (
    DEFAULT_MANTISSA_BITS,
    ReleaseBounds,
    SiteDp,
    Tensor,
    bounded_int,
    release_metric,
    release_metrics,
    release_update,
    released_count,
)

_ROUND_HEADERS = (AppConstants.CURRENT_ROUND, AppConstants.NUM_ROUNDS, AppConstants.START_ROUND)
_ROUND_META = (MetaKey.CURRENT_ROUND, MetaKey.TOTAL_ROUNDS, MetaKey.START_ROUND)
_PASS_META = (MetaKey.FILTER_HISTORY, RECEIPT_META_KEY)  # checked by the egress rules, carry no training output


@dataclass(frozen=True)
class ReleaseConfig:
    """The guard's ``release`` argument in ``privacy.json`` (compiled from the site policy).

    ``dp_required`` with no ``site_dp`` blocks every BYOC model result: the site cannot vouch for job code's DP.
    """

    mantissa_bits: int = DEFAULT_MANTISSA_BITS
    dp_required: bool = False
    site_dp: SiteDp | None = None
    max_epsilon_per_job: float = math.inf

    @classmethod
    def from_args(cls, args: Mapping[str, Any] | None) -> ReleaseConfig:
        """Build from JSON arguments; raises ValueError on anything unknown or invalid (the boot check)."""
        if args is None:
            return cls()
        unknown = sorted(set(args) - {"mantissa_bits", "dp_required", "site_dp"})
        if unknown:
            raise ValueError(f"release: unknown arguments {', '.join(unknown)}")
        bits = args.get("mantissa_bits", DEFAULT_MANTISSA_BITS)
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 23:
            raise ValueError("release: mantissa_bits must be an integer from 1 to 23")
        required = args.get("dp_required", False)
        if not isinstance(required, bool):
            raise ValueError("release: dp_required must be true or false")
        dp_args = args.get("site_dp")
        if dp_args is None:
            return cls(bits, required)
        if not isinstance(dp_args, Mapping) or set(dp_args) != {"clip_norm", "noise_multiplier", "max_epsilon_per_job"}:
            raise ValueError("release: site_dp needs exactly clip_norm, noise_multiplier and max_epsilon_per_job")
        budget = dp_args["max_epsilon_per_job"]
        if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
            raise ValueError("release: site_dp.max_epsilon_per_job must be a positive number")
        dp = SiteDp(float(dp_args["clip_norm"]), float(dp_args["noise_multiplier"]))
        return cls(bits, required, dp, float(budget))


class _References:
    """Task id -> a private copy of the global model the task carried (bounded: one job per process)."""

    def __init__(self, limit: int = 2) -> None:
        self._items: OrderedDict[str, dict[str, Tensor]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def put(self, task_id: str, model: Mapping[str, Any]) -> None:
        copy = {k: _copy(v) for k, v in model.items() if isinstance(k, str) and _is_tensor(v)}
        with self._lock:
            self._items[task_id] = copy
            self._items.move_to_end(task_id)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def get(self, task_id: str) -> dict[str, Tensor] | None:
        with self._lock:
            return self._items.get(task_id)

    def drop(self, task_id: str) -> None:
        with self._lock:
            self._items.pop(task_id, None)


REFERENCES = _References()
"""The global models of this process's recent BYOC tasks (the guard fills it at ``AFTER_TASK_DATA_FILTER``)."""


def _is_tensor(value: object) -> bool:
    return isinstance(value, np.ndarray | torch.Tensor)


def _copy(value: Tensor) -> Tensor:
    return value.detach().clone() if isinstance(value, torch.Tensor) else np.array(value, copy=True)


def remember_reference(task_id: str, task_data: Mapping[str, Any]) -> None:
    """Keep a copy of the global model of a task (a ``WEIGHTS`` DXO); nothing for other task data."""
    dxo = task_data.get(DXO_KEY)
    if isinstance(dxo, Mapping) and dxo.get("kind") == DataKind.WEIGHTS and isinstance(dxo.get("data"), Mapping):
        REFERENCES.put(task_id, dxo["data"])


Charge = Callable[[], float]
"""Charges the site's accountant for one released round (raises BudgetExceededError); returns the job's epsilon."""


def release_result(
    result: MutableMapping[str, Any],
    *,
    config: ReleaseConfig,
    bounds: ReleaseBounds,
    reference: Mapping[str, Tensor] | None,
    charge: Charge | None,
    rng: np.random.Generator,
) -> str:
    """Release ``result`` in place (see the module doc); returns a short summary for the audit record.

    Raises :class:`~fednode.errors.EgressBlockedError` (or ``BudgetExceededError`` from ``charge``) when it may
    not leave; the caller then blocks it. Nothing is changed in ``result`` unless everything passed.
    """
    headers = result.get(ReservedHeaderKey.HEADERS) or {}
    new_headers = {k: bounded_int(k, headers[k], 0, bounds.rounds) for k in _ROUND_HEADERS if k in headers}
    dxo = result.get(DXO_KEY)
    if dxo is None:  # an error reply: nothing to release
        return "released: no data"
    kind = dxo.get("kind")
    meta: Mapping[str, Any] = dxo.get("meta") or {}
    new_meta: dict[str, Any] = {}
    for key, value in meta.items():
        if key == MetaKey.NUM_STEPS_CURRENT_ROUND:
            new_meta[key] = released_count(key, value, bounds.max_steps)
        elif key in _ROUND_META:
            new_meta[key] = bounded_int(key, value, 0, bounds.rounds)
        elif key == MetaKey.INITIAL_METRICS:
            if not isinstance(value, Mapping):
                raise EgressBlockedError("initial metrics are not a mapping")
            new_meta[key] = release_metrics(value, bounds)
        elif key in _PASS_META or key == AlgorithmConstants.SCAFFOLD_CTRL_DIFF:
            new_meta[key] = value
        elif isinstance(key, str):
            new_meta[key] = release_metric(key, value, bounds)
        else:
            raise EgressBlockedError("unexpected meta entry")
    summary: str
    if kind == DataKind.METRICS:
        if AlgorithmConstants.SCAFFOLD_CTRL_DIFF in meta:
            raise EgressBlockedError("SCAFFOLD control difference without a model update")
        new_data: dict[str, Any] = dict(release_metrics(dxo.get("data") or {}, bounds))
        summary = f"released: {len(new_data)} metrics"
    elif kind in (DataKind.WEIGHTS, DataKind.WEIGHT_DIFF):
        controls = meta.get(AlgorithmConstants.SCAFFOLD_CTRL_DIFF) or {}
        if not isinstance(controls, Mapping):
            raise EgressBlockedError("SCAFFOLD control difference is not a mapping")
        if kind == DataKind.WEIGHTS and reference is None:
            raise EgressBlockedError("no global model was kept to compute the update against")
        if config.dp_required and config.site_dp is None:
            raise EgressBlockedError("the site policy requires DP but sets no site noise for job code")
        released = release_update(
            dxo["data"],
            reference=reference if kind == DataKind.WEIGHTS else None,
            rng=rng,
            mantissa_bits=config.mantissa_bits,
            dp=config.site_dp,
            extra=controls,
        )
        if config.site_dp is not None:
            if charge is None:
                raise EgressBlockedError("site DP is on but this site has no privacy ledger")
            epsilon = charge()  # before anything is released; a refusal blocks the result
            summary = (
                f"released: {len(released.data)} tensors rounded, site DP (clip {config.site_dp.clip_norm:g}, "
                f"noise {config.site_dp.noise_multiplier:g}), job epsilon {epsilon:.3g} at this site"
            )
        else:
            summary = f"released: {len(released.data)} tensors rounded to {config.mantissa_bits} bits"
        new_data = released.data
        if released.extra:
            new_meta[AlgorithmConstants.SCAFFOLD_CTRL_DIFF] = released.extra
    else:
        raise EgressBlockedError("DXO kind not allowed")
    dxo["data"] = new_data
    dxo["meta"] = new_meta
    if headers:
        headers.update(new_headers)
    return summary


def fingerprint(result: Mapping[str, Any]) -> str:
    """sha256 over the DXO (kind, data, meta) and the round headers: equal iff the released content is."""
    digest = hashlib.sha256()
    headers = result.get(ReservedHeaderKey.HEADERS) or {}
    _feed(digest, {k: headers.get(k) for k in _ROUND_HEADERS})
    _feed(digest, result.get(DXO_KEY))
    return digest.hexdigest()


def _feed(digest: Any, value: object) -> None:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        digest.update(f"T{value.dtype}{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"M{len(value)}".encode())
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _feed(digest, value[key])
    elif isinstance(value, list | tuple):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"S{type(value).__name__}:{value!r}".encode())
