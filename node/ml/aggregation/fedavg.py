"""Weighted federated averaging (McMahan et al. 2017). FedProx's server side is the same rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fednode.errors import AggregationInputError
from node.ml.aggregation._ops import all_finite, check_updates, example_weights, weighted_sum, weights_by_site
from node.ml.aggregation._types import AggregationResult, ClientUpdate, StateDict


@dataclass
class FedAvg:
    """Average the updates weighted by each site's example count (``weighted=False``: plain mean)."""

    weighted: bool = True
    name: str = "fedavg"

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        # A NaN or inf in any update makes the weighted sum non-finite too (0 x inf is NaN), so the sum is
        # checked once instead of every update; only then are the updates scanned and the bad ones dropped.
        kept, rejected = check_updates(updates, check_finite=False)
        weights, mean = self._mean(kept)
        if not all_finite(mean):
            kept, rejected = check_updates(updates)
            weights, mean = self._mean(kept)
            if not all_finite(mean):
                raise AggregationInputError("the weighted mean of finite updates overflowed")
        return AggregationResult(update=mean, weights=weights_by_site(kept, weights), rejected=rejected)

    def _mean(self, kept: Sequence[ClientUpdate]) -> tuple[torch.Tensor, StateDict]:
        weights = example_weights(kept)
        if not self.weighted:
            weights.fill_(1.0 / len(kept))
        return weights, weighted_sum(kept, weights, list(kept[0].update))


def FedProx(weighted: bool = True) -> FedAvg:  # noqa: N802  # reads like the class it stands for
    """FedProx aggregates exactly like FedAvg; the proximal term lives in the site's local objective."""
    return FedAvg(weighted=weighted, name="fedprox")
