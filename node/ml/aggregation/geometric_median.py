"""Geometric median by smoothed Weiszfeld iterations (RFA, Pillutla et al. 2022)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from node.ml.aggregation._ops import check_updates, example_weights, stack, unflatten, weights_by_site
from node.ml.aggregation._types import AggregationResult, ClientUpdate


def smoothed_weiszfeld(
    matrix: torch.Tensor, alphas: torch.Tensor, *, nu: float = 1e-6, max_iter: int = 100, tol: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Minimise Σ α_i · max(ν, ||z - x_i||) over z. Returns (z, final per-row weights, iterations used).

    Each step re-weights rows by α_i / max(ν, ||z - x_i||); stops when the objective improves by less than
    ``tol`` relative to its value.
    """
    alphas = alphas.to(matrix.device, torch.float32)
    z = (alphas[:, None] * matrix).sum(dim=0) / alphas.sum()

    def objective(point: torch.Tensor) -> float:
        dist = torch.linalg.vector_norm(matrix - point, dim=1).clamp_min(nu)
        return float((alphas * dist).sum())

    betas = alphas.clone()
    value = objective(z)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007  # the count is returned
        dist = torch.linalg.vector_norm(matrix - z, dim=1).clamp_min(nu)
        betas = alphas / dist
        z = (betas[:, None] * matrix).sum(dim=0) / betas.sum()
        new_value = objective(z)
        if abs(value - new_value) <= tol * max(new_value, 1e-12):
            value = new_value
            break
        value = new_value
    return z, betas / betas.sum(), iterations


@dataclass
class GeometricMedian:
    """The point minimising the example-weighted sum of distances to the updates; breakdown point 1/2."""

    nu: float = 1e-6
    max_iter: int = 100
    tol: float = 1e-6
    name: str = "geometric_median"

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        kept, rejected = check_updates(updates)
        keys = list(kept[0].update)
        z, betas, iterations = smoothed_weiszfeld(
            stack(kept, keys), example_weights(kept), nu=self.nu, max_iter=self.max_iter, tol=self.tol
        )
        return AggregationResult(
            update=unflatten(z, kept[0].update, keys),
            weights=weights_by_site(kept, betas),
            rejected=rejected,
            info={"iterations": float(iterations)},
        )
