"""What a bring-your-own-code result may carry when it leaves the site: reduced precision, bounded numbers, and the
site's own differential privacy. Pure math (numpy, torch) and small values; no NVFlare.

The egress guard (:mod:`node.site.egress`) applies this to every BYOC result after all filters, in the job
process, which job code never runs in (it runs confined in its own process):

* **Model values** are released on a grid of ``mantissa_bits`` significant bits (7 = the bfloat16 grid) by
  unbiased stochastic rounding, ``E[round(x)] = x``, with randomness from a generator seeded by the operating
  system's CSPRNG (:func:`secure_generator`). The *update* (the result minus the global model the site received)
  is rounded, so the grid is relative to the update's own size and the model loses nothing on average. Every bit
  below the grid is zero afterwards: whatever job code hid there is gone. The kept bits still carry the model, so
  they remain a channel for code that writes into them; only noise bounds that (next point).
* **Site DP** (:class:`SiteDp`, when the policy requires DP): the update is clipped to L2 norm ``C`` and Gaussian
  noise of standard deviation ``noise_multiplier * C`` is added to every value, then rounded. The site's own
  accountant (:class:`SiteAccountant`) charges the privacy ledger one Gaussian mechanism per released round
  (sample rate 1) before the result may leave. The charge assumes sensitivity ``2C`` (any neighbouring dataset's
  clipped update lies in the same ball of radius ``C``), i.e. an effective noise multiplier of
  ``noise_multiplier / 2``: the record-level figure the ledger composes with DP-SGD steps. It also bounds the
  guarantee for the site's whole contribution in a round (sensitivity ``C``). By the Gaussian channel capacity,
  one noised round can carry at most ``1 / (2 ln 2 * noise_multiplier**2)`` bits about anything, hidden or not.
* **Metrics** must be finite and inside the range of their kind (:data:`METRIC_RANGES`: ``[0, 1]`` for
  precision, recall, F1 and accuracy, ``[0, 1e4]`` for a loss, counts up to the site's records) and are rounded
  to three significant digits; **integers** in headers and meta are bounded (rounds by the approved rounds).

Anything outside these rules raises :class:`~fednode.errors.EgressBlockedError` (the guard blocks and audits it).
Reasons name fields and kinds, never values.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import torch

from fednode.errors import BudgetExceededError, EgressBlockedError
from policies.ledger import epsilon_of

log = logging.getLogger("fednode.node.site.release")

Tensor = np.ndarray | torch.Tensor
"""A model value as NVFlare results carry it: a numpy array or a torch tensor."""

DEFAULT_MANTISSA_BITS = 7
"""Significant bits kept after the leading one: 7 is the bfloat16 grid, 10 the float16 grid."""
MAX_ABS_VALUE = 1e6
"""The largest magnitude a model value or update value may have (also keeps rounding far from overflow)."""
SIGNIFICANT_DIGITS = 3

# numpy float dtype -> (unsigned integer of the same width, explicit mantissa bits)
_LAYOUT: dict[np.dtype[Any], tuple[type[np.unsignedinteger[Any]], int]] = {
    np.dtype(np.float16): (np.uint16, 10),
    np.dtype(np.float32): (np.uint32, 23),
    np.dtype(np.float64): (np.uint64, 52),
}
_TORCH_MANTISSA = {torch.float16: 10, torch.bfloat16: 7, torch.float32: 23, torch.float64: 52}


def secure_generator() -> np.random.Generator:
    """A fast generator seeded with 128 bits from the operating system's CSPRNG (job code cannot predict it)."""
    return np.random.Generator(np.random.PCG64DXSM(secrets.randbits(128)))


# --- model values ---------------------------------------------------------------------------------------------


def is_float(value: Tensor) -> bool:
    """Whether ``value`` holds floating-point numbers."""
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return bool(value.dtype.kind == "f")


def mantissa_bits_of(value: Tensor) -> int:
    """The explicit mantissa bits of ``value``'s float dtype (bfloat16 7, float16 10, float32 23, float64 52)."""
    if isinstance(value, torch.Tensor):
        if value.dtype not in _TORCH_MANTISSA:
            raise EgressBlockedError(f"unsupported tensor dtype {value.dtype}")
        return _TORCH_MANTISSA[value.dtype]
    if value.dtype not in _LAYOUT:
        raise EgressBlockedError(f"unsupported array dtype {value.dtype}")
    return _LAYOUT[value.dtype][1]


def to_float64(value: Tensor) -> np.ndarray:
    """A float64 numpy copy of an array or tensor (exact for every float dtype a model uses)."""
    if isinstance(value, torch.Tensor):
        return np.asarray(value.detach().to(device="cpu", dtype=torch.float64).numpy(), dtype=np.float64)
    return np.array(value, dtype=np.float64, copy=True)


def like(array: np.ndarray, template: Tensor) -> Tensor:
    """``array`` cast to ``template``'s dtype, as the same kind of object (and device, for a tensor)."""
    if isinstance(template, torch.Tensor):
        return torch.from_numpy(np.ascontiguousarray(array)).to(device=template.device, dtype=template.dtype)
    return np.asarray(array.astype(template.dtype, copy=False))


def stochastic_round(values: np.ndarray, rng: np.random.Generator, mantissa_bits: int) -> np.ndarray:
    """Round each value to ``mantissa_bits`` significant bits after the leading one, up or down at random with
    the probability that makes the result unbiased (``E[out] = values``). Returns a new array of the same dtype
    (float16, float32 or float64) whose bits below the grid are all zero.

    Works on the bit pattern: a uniform random integer below one grid step is added to the magnitude bits and
    the bits below the step are cleared. Within a binade the pattern is linear in the value, and a carry into the
    exponent lands exactly on the next power of two, so rounding up happens with probability equal to the dropped
    fraction. Non-finite values and magnitudes over :data:`MAX_ABS_VALUE` are refused.
    """
    if values.dtype not in _LAYOUT:
        raise EgressBlockedError(f"unsupported array dtype {values.dtype}")
    if mantissa_bits < 0:
        raise ValueError("mantissa_bits must be >= 0")
    check_values(values)
    uint, mantissa = _LAYOUT[values.dtype]
    drop = mantissa - min(mantissa_bits, mantissa)
    out = np.array(values, copy=True, order="C")
    if drop == 0 or out.size == 0:
        return out
    raw = out.view(uint)
    raw += rng.integers(0, 1 << drop, size=raw.shape, dtype=uint)
    raw &= uint(~((1 << drop) - 1) & np.iinfo(uint).max)
    return out


def on_grid(values: Tensor, mantissa_bits: int) -> bool:
    """Whether every value of a float array has no set bit below a ``mantissa_bits`` grid."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
    if array.dtype not in _LAYOUT:
        return False
    uint, mantissa = _LAYOUT[array.dtype]
    drop = mantissa - min(mantissa_bits, mantissa)
    low = uint((1 << drop) - 1)
    return not bool(np.any(np.ascontiguousarray(array).view(uint) & low))


def check_values(values: np.ndarray, *, name: str = "a tensor") -> None:
    """Refuse non-finite values and magnitudes over :data:`MAX_ABS_VALUE`."""
    if values.size == 0:
        return
    if not bool(np.all(np.isfinite(values))):
        raise EgressBlockedError(f"{name} holds a value that is not finite")
    if float(np.max(np.abs(values))) > MAX_ABS_VALUE:
        raise EgressBlockedError(f"{name} holds a value over {MAX_ABS_VALUE:g} in magnitude")


def l2_norm(values: Iterable[np.ndarray]) -> float:
    """The L2 norm of all arrays together (accumulated in float64)."""
    return math.sqrt(sum(float(np.dot(v.ravel(), v.ravel())) for v in values))


@dataclass(frozen=True)
class SiteDp:
    """The site's own update-level Gaussian mechanism: clip to ``clip_norm``, add N(0, (z * clip_norm)^2)."""

    clip_norm: float
    noise_multiplier: float

    def __post_init__(self) -> None:
        for name in ("clip_norm", "noise_multiplier"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"SiteDp: {name} must be a positive number")

    @property
    def noise_std(self) -> float:
        """The standard deviation of the noise added to every value."""
        return self.noise_multiplier * self.clip_norm

    @property
    def record_multiplier(self) -> float:
        """The noise multiplier the ledger is charged with: sensitivity ``2 * clip_norm`` (see the module doc)."""
        return self.noise_multiplier / 2.0

    @property
    def capacity_bits(self) -> float:
        """The most bits one noised round can carry (Gaussian channel, total power ``clip_norm**2``)."""
        return 1.0 / (2.0 * math.log(2.0) * self.noise_multiplier**2)


@dataclass(frozen=True)
class ReleasedUpdate:
    """What :func:`release_update` made of a model result."""

    data: dict[str, Tensor]
    """The tensors to send, each of its input's dtype and kind."""
    extra: dict[str, Tensor]
    """Further update tensors released under the same clip and noise (SCAFFOLD control differences)."""
    norm: float
    """The L2 norm of the whole update (data and extra) before clipping."""
    clipped: bool
    noised: bool


def release_update(
    data: Mapping[str, Tensor],
    *,
    reference: Mapping[str, Tensor] | None,
    rng: np.random.Generator,
    mantissa_bits: int = DEFAULT_MANTISSA_BITS,
    dp: SiteDp | None = None,
    extra: Mapping[str, Tensor] | None = None,
) -> ReleasedUpdate:
    """Release model tensors: round (and with ``dp`` clip and noise) the update, return new tensors.

    ``reference`` is the global model the site received when ``data`` holds full weights (the update is
    ``data - reference`` and ``reference + released update`` is sent); ``None`` when ``data`` already is an
    update. ``extra`` are more update tensors (never full weights) released under the same clip and noise.
    Integer and boolean tensors carry nothing a trainer produces: they must equal the reference (or be zero in an
    update). Raises :class:`EgressBlockedError` on anything else.
    """
    extra = extra or {}
    updates: dict[tuple[bool, str], np.ndarray] = {}
    for is_extra, tensors, ref in ((False, data, reference), (True, extra, None)):
        for name, value in tensors.items():
            base = None if ref is None else ref.get(name)
            if ref is not None and base is None:
                raise EgressBlockedError("a tensor has no counterpart in the global model")
            if not is_float(value):
                _check_fixed(value, base)
                continue
            update = to_float64(value)
            check_values(update, name="the result")
            if base is not None:
                update -= to_float64(base)
            check_values(update, name="the update")
            updates[(is_extra, name)] = update
    norm = l2_norm(updates.values())
    clipped = dp is not None and norm > dp.clip_norm
    scale = dp.clip_norm / norm if dp is not None and clipped else 1.0
    out: dict[bool, dict[str, Tensor]] = {False: dict(data), True: dict(extra)}
    for (is_extra, name), update in updates.items():
        template = (extra if is_extra else data)[name]
        if dp is not None:
            update = update * scale + rng.normal(0.0, dp.noise_std, size=update.shape)
        released = stochastic_round(update, rng, min(mantissa_bits, mantissa_bits_of(template)))
        if not is_extra and reference is not None:
            released = released + to_float64(reference[name])
        out[is_extra][name] = like(released, template)
    return ReleasedUpdate(out[False], out[True], norm, clipped, dp is not None)


def _check_fixed(value: Tensor, base: Tensor | None) -> None:
    """An integer or boolean tensor must equal the global model's (or be all zero in an update)."""
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.dtype.kind not in "biu":
        raise EgressBlockedError("a tensor is not numeric")
    if base is None:
        if np.any(array):
            raise EgressBlockedError("an integer tensor of an update is not zero")
        return
    expected = base.detach().cpu().numpy() if isinstance(base, torch.Tensor) else np.asarray(base)
    if expected.shape != array.shape or not np.array_equal(expected, array):
        raise EgressBlockedError("an integer tensor differs from the global model")


# --- metrics and integers -------------------------------------------------------------------------------------


class MetricKind(StrEnum):
    """What a metric measures, which fixes its range."""

    PROBABILITY = "probability"  # precision, recall, F1, accuracy, AUC
    LOSS = "loss"
    EXAMPLES = "examples"  # num_examples: at most the site's local records
    STEPS = "steps"
    SECONDS = "seconds"
    EPSILON = "epsilon"  # what the job says it spent: shown, never trusted
    OTHER = "other"  # a name the site allowed that has no kind here


@dataclass(frozen=True)
class MetricRange:
    """The closed range a metric kind must lie in; ``integer`` kinds must be whole numbers."""

    low: float
    high: float
    integer: bool = False


METRIC_RANGES: dict[MetricKind, MetricRange] = {
    MetricKind.PROBABILITY: MetricRange(0.0, 1.0),
    MetricKind.LOSS: MetricRange(0.0, 1e4),
    MetricKind.EXAMPLES: MetricRange(0.0, math.inf, integer=True),  # high: the site's records (ReleaseBounds)
    MetricKind.STEPS: MetricRange(0.0, 1e7, integer=True),
    MetricKind.SECONDS: MetricRange(0.0, 1e7),
    MetricKind.EPSILON: MetricRange(0.0, 1e3),
    MetricKind.OTHER: MetricRange(-1e6, 1e6),
}
_PROBABILITY_NAMES = ("precision", "recall", "f1", "accuracy", "auc", "auroc")
_PREFIXES = ("val_", "dev_", "train_", "test_", "valid_", "eval_")


def metric_kind(name: str) -> MetricKind:
    """The kind of a metric name (``val_f1`` is a probability, ``train_loss`` a loss)."""
    base = name.lower()
    for prefix in _PREFIXES:
        base = base.removeprefix(prefix)
    if base in _PROBABILITY_NAMES:
        return MetricKind.PROBABILITY
    if base == "loss" or base.endswith("_loss"):
        return MetricKind.LOSS
    if base in ("num_examples", "examples"):
        return MetricKind.EXAMPLES
    if base in ("steps", "num_steps"):
        return MetricKind.STEPS
    if base == "seconds":
        return MetricKind.SECONDS
    if base == "epsilon":
        return MetricKind.EPSILON
    return MetricKind.OTHER


@dataclass(frozen=True)
class ReleaseBounds:
    """The numbers a result's integers are bounded by at this site, for this job."""

    rounds: int
    """The rounds the reviewer approved (the manifest's ``rounds``)."""
    local_records: int
    """The site's local record count (annotated notes): ``num_examples`` may not exceed it."""
    max_steps: int = 10_000_000
    """The most optimiser steps one round may report."""


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant decimal digits (0.123456 -> 0.123, 12345 -> 12300)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer past the float range
            return math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, np.generic | np.ndarray) and np.ndim(value) == 0 and value.dtype.kind in "iuf":
        return float(value)
    return None


def release_metric(name: str, value: object, bounds: ReleaseBounds) -> float | int:
    """A metric as it may leave: finite, within its kind's range, three significant digits.

    Integer kinds (counts) come back as ``int``, the others as ``float``.
    """
    number = _as_number(value)
    if number is None:
        raise EgressBlockedError(f"metric {name} is not a number")
    if not math.isfinite(number):
        raise EgressBlockedError(f"metric {name} is not finite")
    kind = metric_kind(name)
    rng = METRIC_RANGES[kind]
    high = float(bounds.local_records) if kind is MetricKind.EXAMPLES else rng.high
    if not rng.low <= number <= high:
        raise EgressBlockedError(f"metric {name} is outside the range of a {kind.value} metric")
    if rng.integer and number != math.floor(number):
        raise EgressBlockedError(f"metric {name} is not a whole number")
    rounded = min(max(round_significant(number), rng.low), high)
    return int(rounded) if rng.integer else rounded


def release_metrics(metrics: Mapping[Any, object], bounds: ReleaseBounds) -> dict[str, float | int]:
    """Every metric of a mapping released by :func:`release_metric` (names must be strings)."""
    out: dict[str, float | int] = {}
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise EgressBlockedError("a metric name is not text")
        out[name] = release_metric(name, value, bounds)
    return out


def bounded_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[low, high]``; else blocked."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise EgressBlockedError(f"{name} is not an integer")
    if not low <= int(value) <= high:
        raise EgressBlockedError(f"{name} is outside [{low}, {high}]")
    return int(value)


def released_count(name: str, value: object, high: int) -> int:
    """A count (steps in a round) bounded by ``high`` and rounded to three significant digits."""
    count = bounded_int(name, value, 0, high)
    return min(int(round_significant(float(count))), high)


# --- the site's own accountant --------------------------------------------------------------------------------

Step = tuple[float, float, int]


class StepLedger(Protocol):
    """The privacy ledger as the site accountant uses it (:class:`policies.ledger.PrivacyLedger`)."""

    delta: float
    accountant: str

    def job_steps(self, job_id: str) -> list[Step]: ...

    def accountant_history(self, dataset: str) -> list[Step]: ...

    def epsilon_spent(self, dataset: str, delta: float | None = ..., accountant: str | None = ...) -> float: ...

    def budget_of(self, dataset: str) -> float: ...

    def record_steps(
        self, job_id: str, dataset: str, noise_multiplier: float, sample_rate: float, steps: int, *, actor: str
    ) -> None: ...


@dataclass(frozen=True)
class SiteAccountant:
    """The site's accountant for one job: its state is the job's steps in the ledger (state.db), so it survives
    restarts and rounds. It composes with the ledger's accountant (PRV by default, RDP as its fallback and
    upper bound), one Gaussian mechanism with sample rate 1 per released round."""

    ledger: StepLedger
    job_id: str
    dataset: str
    dp: SiteDp
    max_epsilon_per_job: float

    @property
    def step(self) -> Step:
        """The ledger entry for one released round."""
        return (self.dp.record_multiplier, 1.0, 1)

    def epsilon(self, extra: Sequence[Step] = ()) -> float:
        """The job's epsilon at this site by the site's own accounting (its recorded steps, plus ``extra``)."""
        history = [*self.ledger.job_steps(self.job_id), *extra]
        return epsilon_of(history, self.ledger.delta, self.ledger.accountant)

    def charge_round(self, *, actor: str) -> float:
        """Charge one released round, or raise :class:`BudgetExceededError` (nothing charged) when it would take
        the job past ``max_epsilon_per_job`` or the dataset past its budget. Returns the job's epsilon after it."""
        job_after = self.epsilon([self.step])
        if job_after > self.max_epsilon_per_job:
            raise BudgetExceededError(
                f"job {self.job_id}: one more round would spend epsilon {job_after:.3g} at this site, "
                f"over {self.max_epsilon_per_job:g} per job"
            )
        ledger = self.ledger
        history = ledger.accountant_history(self.dataset)
        composed = epsilon_of(history, ledger.delta, ledger.accountant)
        flat = ledger.epsilon_spent(self.dataset) - composed
        dataset_after = epsilon_of([*history, self.step], ledger.delta, ledger.accountant) + flat
        budget = ledger.budget_of(self.dataset)
        if dataset_after > budget:
            raise BudgetExceededError(
                f"dataset {self.dataset}: one more round would spend epsilon {dataset_after:.3g}, over its budget "
                f"{budget:g}"
            )
        nm, rate, steps = self.step
        ledger.record_steps(self.job_id, self.dataset, nm, rate, steps, actor=actor)
        log.info("release.charged job=%s dataset=%s epsilon=%.4g", self.job_id, self.dataset, job_after)
        return job_after


__all__ = [
    "DEFAULT_MANTISSA_BITS",
    "MAX_ABS_VALUE",
    "METRIC_RANGES",
    "MetricKind",
    "MetricRange",
    "ReleaseBounds",
    "ReleasedUpdate",
    "SiteAccountant",
    "SiteDp",
    "StepLedger",
    "Tensor",
    "bounded_int",
    "check_values",
    "l2_norm",
    "metric_kind",
    "on_grid",
    "release_metric",
    "release_metrics",
    "release_update",
    "released_count",
    "round_significant",
    "secure_generator",
    "stochastic_round",
]
