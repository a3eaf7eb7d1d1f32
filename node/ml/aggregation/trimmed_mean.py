"""Coordinate-wise trimmed mean (Yin et al. 2018): drop the k largest and k smallest values per coordinate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fednode.errors import ConfigError
from node.ml.aggregation._ops import check_updates, stack, unflatten
from node.ml.aggregation._types import AggregationResult, ClientUpdate


def trimmed_mean(matrix: torch.Tensor, k: int) -> torch.Tensor:
    """Per-column mean of an (n, d) matrix after removing its k smallest and k largest values."""
    n = matrix.shape[0]
    if 2 * k >= n:
        raise ConfigError(f"cannot trim {k} from each end of {n} updates")
    ordered, _ = torch.sort(matrix, dim=0)
    return ordered[k : n - k].mean(dim=0)


@dataclass
class TrimmedMean:
    """Trims ``ceil(trim_ratio · n)`` values from each end (at least one when ``n >= 3``).

    Tolerates up to k poisoned sites per coordinate. With fewer than three updates nothing can be trimmed and the
    plain mean is used (the result's ``info["trimmed"]`` says how many were trimmed from each end).
    """

    trim_ratio: float = 0.2
    name: str = "trimmed_mean"

    def __post_init__(self) -> None:
        if not 0.0 <= self.trim_ratio < 0.5:
            raise ConfigError(f"trim_ratio must be in [0, 0.5), got {self.trim_ratio}")

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        kept, rejected = check_updates(updates)
        n = len(kept)
        k = min(max(math.ceil(self.trim_ratio * n), 1 if self.trim_ratio > 0 else 0), (n - 1) // 2)
        keys = list(kept[0].update)
        result = trimmed_mean(stack(kept, keys), k)
        return AggregationResult(
            update=unflatten(result, kept[0].update, keys),
            weights={u.site: 1.0 / n for u in kept},
            rejected=rejected,
            info={"trimmed": float(k)},
        )
