"""Update-norm clipping: scale each site's update to an L2 norm of at most τ, then average (weighted)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fednode.errors import ConfigError
from node.ml.aggregation._ops import check_updates, example_weights, stack, unflatten, weighted_mean, weights_by_site
from node.ml.aggregation._types import AggregationResult, ClientUpdate


@dataclass
class NormClipping:
    """Bounds any one site's influence on the global model to ``w_i · τ``.

    ``max_norm`` fixes τ; left as None, τ is the median of this round's update norms (adaptive, so honest
    updates pass unchanged while a scaled-up one is cut to the typical size).
    """

    max_norm: float | None = None
    name: str = "norm_clipping"

    def __post_init__(self) -> None:
        if self.max_norm is not None and self.max_norm <= 0:
            raise ConfigError(f"max_norm must be positive, got {self.max_norm}")

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        kept, rejected = check_updates(updates)
        keys = list(kept[0].update)
        matrix = stack(kept, keys)
        norms = torch.linalg.vector_norm(matrix, dim=1)
        tau = float(norms.median()) if self.max_norm is None else self.max_norm
        scale = torch.clamp(tau / norms.clamp_min(1e-12), max=1.0)
        weights = example_weights(kept)
        result = weighted_mean(matrix * scale[:, None], weights)
        return AggregationResult(
            update=unflatten(result, kept[0].update, keys),
            weights=weights_by_site(kept, weights),
            rejected=rejected,
            info={"clip_norm": tau, "clipped_sites": float(int((scale < 1.0).sum()))},
        )
