"""SCAFFOLD's server side (Karimireddy et al. 2020): model update plus the global control variate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from fednode.errors import AggregationInputError
from node.ml.aggregation._ops import check_updates, example_weights, stack, unflatten, weighted_mean, weights_by_site
from node.ml.aggregation._types import AggregationResult, ClientUpdate, StateDict


@dataclass
class Scaffold:
    """Keeps the global control variate ``c`` and updates it each round.

    Model: ``Δx = server_lr · Σ w_i Δy_i`` (weights by example count, as NVFlare does). Control:
    ``c ← c + (|S| / N) · mean_i Δc_i`` where ``N`` is the number of sites in the federation (``total_sites``)
    and ``S`` the sites that reported this round. Send :attr:`global_control` to the sites with the new model.
    """

    total_sites: int
    server_lr: float = 1.0
    name: str = "scaffold"
    global_control: StateDict = field(default_factory=dict)

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        kept, rejected = check_updates(updates)
        if self.total_sites < len(kept):
            raise AggregationInputError(f"{len(kept)} updates arrived but the federation has {self.total_sites} sites")
        missing = [u.site for u in kept if u.control_delta is None]
        if missing:
            raise AggregationInputError(f"SCAFFOLD needs a control-variate delta from every site (none from {missing})")
        keys = list(kept[0].update)
        weights = example_weights(kept)
        mean = weighted_mean(stack(kept, keys), weights) * self.server_lr

        deltas = [u.control_delta for u in kept if u.control_delta is not None]
        c_keys = list(deltas[0])
        if any(set(d) != set(c_keys) for d in deltas):
            raise AggregationInputError("sites sent control-variate deltas with different keys")
        if not self.global_control:
            self.global_control = {k: torch.zeros_like(deltas[0][k], dtype=torch.float32) for k in c_keys}
        fraction = len(deltas) / self.total_sites
        for k in c_keys:
            avg = torch.stack([d[k].to(torch.float32) for d in deltas]).mean(dim=0)
            self.global_control[k] = self.global_control[k] + fraction * avg.to(self.global_control[k].device)
        return AggregationResult(
            update=unflatten(mean, kept[0].update, keys),
            weights=weights_by_site(kept, weights),
            rejected=rejected,
            info={"control_fraction": fraction},
        )
