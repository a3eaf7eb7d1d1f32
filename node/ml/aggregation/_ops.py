"""Tensor arithmetic on state dicts: validation, flattening, weighted sums, applying an update."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import torch

from fednode.errors import AggregationInputError
from node.ml.aggregation._types import ClientUpdate, StateDict

log = logging.getLogger("fednode.node.ml.aggregation")


def float_keys(state: Mapping[str, torch.Tensor]) -> list[str]:
    """The keys of the floating-point entries, in the dict's order (integer buffers are not trained)."""
    return [k for k, v in state.items() if torch.is_floating_point(v)]


def check_updates(
    updates: Sequence[ClientUpdate], *, check_finite: bool = True
) -> tuple[list[ClientUpdate], tuple[str, ...]]:
    """Validate a round's updates; return the usable ones and the sites dropped for non-finite values.

    Raises :class:`AggregationInputError` when there is nothing to aggregate, when keys or shapes differ between
    sites, when a tensor is not floating point or when a weight (``num_examples``) is negative.
    ``check_finite=False`` skips the scan for NaN/inf values (a caller that checks its result instead, see
    :func:`all_finite`).
    """
    if not updates:
        raise AggregationInputError("no updates to aggregate")
    reference = updates[0]
    keys = list(reference.update)
    if not keys:
        raise AggregationInputError(f"site {reference.site!r} sent an empty update")
    kept: list[ClientUpdate] = []
    rejected: list[str] = []
    for u in updates:
        if u.num_examples < 0:
            raise AggregationInputError(f"site {u.site!r} reported a negative example count", field="num_examples")
        if set(u.update) != set(keys):
            missing = sorted(set(keys) - set(u.update))[:3]
            extra = sorted(set(u.update) - set(keys))[:3]
            raise AggregationInputError(f"site {u.site!r} sent different keys (missing {missing}, extra {extra})")
        finite = check_finite
        for k in keys:
            t, r = u.update[k], reference.update[k]
            if t.shape != r.shape:
                raise AggregationInputError(
                    f"site {u.site!r} sent shape {tuple(t.shape)} where {tuple(r.shape)} was expected", field=k
                )
            if not torch.is_floating_point(t):
                raise AggregationInputError(f"site {u.site!r} sent a non-float tensor ({t.dtype})", field=k)
            if finite and not bool(torch.isfinite(t).all()):
                finite = False
        if finite or not check_finite:
            kept.append(u)
        else:
            log.warning("aggregation.update_rejected site=%s reason=non_finite", u.site)
            rejected.append(u.site)
    if not kept:
        raise AggregationInputError("every update held non-finite values")
    return kept, tuple(rejected)


def all_finite(state: Mapping[str, torch.Tensor]) -> bool:
    """True when no entry holds NaN or inf."""
    return all(bool(torch.isfinite(v).all()) for v in state.values())


def flatten(state: Mapping[str, torch.Tensor], keys: Sequence[str]) -> torch.Tensor:
    """Concatenate the named tensors into one float32 vector (on the first tensor's device)."""
    return torch.cat([state[k].detach().reshape(-1).to(torch.float32) for k in keys])


def unflatten(vector: torch.Tensor, like: Mapping[str, torch.Tensor], keys: Sequence[str]) -> StateDict:
    """Split a flat vector back into tensors shaped (and typed) like ``like``."""
    out: StateDict = {}
    offset = 0
    for k in keys:
        ref = like[k]
        n = ref.numel()
        out[k] = vector[offset : offset + n].reshape(ref.shape).to(ref.dtype)
        offset += n
    return out


def stack(updates: Sequence[ClientUpdate], keys: Sequence[str]) -> torch.Tensor:
    """An (n_sites, n_params) float32 matrix of the flattened updates."""
    return torch.stack([flatten(u.update, keys) for u in updates])


def example_weights(updates: Sequence[ClientUpdate]) -> torch.Tensor:
    """Weights proportional to each site's example count (uniform when every count is zero)."""
    counts = torch.tensor([float(u.num_examples) for u in updates], dtype=torch.float32)
    total = float(counts.sum())
    if total <= 0.0:
        return torch.full((len(updates),), 1.0 / len(updates))
    return counts / total


def weighted_mean(matrix: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ w_i x_i / Σ w_i over the rows of ``matrix``."""
    w = weights.to(matrix.device, torch.float32)
    return (w[:, None] * matrix).sum(dim=0) / w.sum()


def l2_norm(state: Mapping[str, torch.Tensor]) -> float:
    """The L2 norm of all floating-point entries taken together."""
    total = 0.0
    for v in state.values():
        if torch.is_floating_point(v):
            total += float(v.detach().to(torch.float64).pow(2).sum())
    return math.sqrt(total)


def apply_update(
    state: Mapping[str, torch.Tensor], update: Mapping[str, torch.Tensor], scale: float = 1.0
) -> StateDict:
    """A new state dict: ``state + scale * update`` on the update's keys; every other entry copied unchanged."""
    out: StateDict = {}
    for k, v in state.items():
        if k in update:
            out[k] = torch.add(v.detach(), update[k].to(v.device, v.dtype), alpha=scale)
        else:
            out[k] = v.detach().clone()
    return out


def difference(new: Mapping[str, torch.Tensor], old: Mapping[str, torch.Tensor], *, to_cpu: bool = True) -> StateDict:
    """``new - old`` over the floating-point entries (the update a site sends), on the CPU or on ``new``'s device."""
    out = {k: new[k].detach() - old[k].detach().to(new[k].device) for k in float_keys(new)}
    return {k: v.cpu() for k, v in out.items()} if to_cpu else out


def weighted_sum(updates: Sequence[ClientUpdate], weights: torch.Tensor, keys: Sequence[str]) -> StateDict:
    """``Σ w_i u_i / Σ w_i`` key by key, accumulated in place (no sites x parameters matrix is built)."""
    w = (weights.to(torch.float64) / weights.to(torch.float64).sum()).tolist()
    out: StateDict = {}
    for k in keys:
        first = updates[0].update[k]
        acc = first.to(torch.float32) * w[0]
        for u, wi in zip(updates[1:], w[1:], strict=True):
            acc.add_(u.update[k].to(acc.device), alpha=wi)
        out[k] = acc.to(first.dtype)
    return out


def zeros_like(state: Mapping[str, torch.Tensor]) -> StateDict:
    """Zero tensors shaped like the floating-point entries of ``state``."""
    return {k: torch.zeros_like(v) for k, v in state.items() if torch.is_floating_point(v)}


def weights_by_site(updates: Sequence[ClientUpdate], weights: torch.Tensor) -> dict[str, float]:
    """Normalised weights keyed by site name."""
    w = weights.to(torch.float64)
    total = float(w.sum())
    return {u.site: (float(x) / total if total > 0 else 0.0) for u, x in zip(updates, w, strict=True)}
