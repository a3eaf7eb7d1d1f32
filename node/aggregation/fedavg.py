"""Weighted federated averaging (McMahan et al. 2017). FedProx's server side is the same rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from node.aggregation._ops import check_updates, example_weights, stack, unflatten, weighted_mean, weights_by_site
from node.aggregation._types import AggregationResult, ClientUpdate


@dataclass
class FedAvg:
    """Average the updates weighted by each site's example count (``weighted=False``: plain mean)."""

    weighted: bool = True
    name: str = "fedavg"

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        kept, rejected = check_updates(updates)
        keys = list(kept[0].update)
        weights = example_weights(kept)
        if not self.weighted:
            weights.fill_(1.0 / len(kept))
        mean = weighted_mean(stack(kept, keys), weights)
        return AggregationResult(
            update=unflatten(mean, kept[0].update, keys),
            weights=weights_by_site(kept, weights),
            rejected=rejected,
        )


def FedProx(weighted: bool = True) -> FedAvg:  # noqa: N802  # reads like the class it stands for
    """FedProx aggregates exactly like FedAvg; the proximal term lives in the site's local objective."""
    return FedAvg(weighted=weighted, name="fedprox")
