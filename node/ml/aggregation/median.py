"""Coordinate-wise median (Yin et al. 2018): each coordinate takes the median of the sites' values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from node.ml.aggregation._ops import check_updates, stack, unflatten
from node.ml.aggregation._types import AggregationResult, ClientUpdate


def coordinate_median(matrix: torch.Tensor) -> torch.Tensor:
    """The per-column median of an (n, d) matrix; with even n the mean of the two middle values."""
    n = matrix.shape[0]
    ordered, _ = torch.sort(matrix, dim=0)
    if n % 2 == 1:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2.0


@dataclass
class CoordinateMedian:
    """Robust to fewer than half the sites sending arbitrary values; ignores example counts."""

    name: str = "median"

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        kept, rejected = check_updates(updates)
        keys = list(kept[0].update)
        result = coordinate_median(stack(kept, keys))
        return AggregationResult(
            update=unflatten(result, kept[0].update, keys),
            weights={u.site: 1.0 / len(kept) for u in kept},
            rejected=rejected,
        )
