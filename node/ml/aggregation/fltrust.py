"""FLTrust (Cao et al., NDSS 2021): trust each site by how well its update agrees with the server's own.

The server trains on a small, clean root set it holds (the same trainer, from the same global model) and gets a
root update g₀. Site i gets trust ``TS_i = ReLU(cos(u_i, g₀))``; its update is rescaled to ``||g₀||`` and the
global update is ``Σ TS_i · u_i·||g₀||/||u_i|| / Σ TS_i``. A sign-flipped update gets trust 0; a scaled-up one
loses its extra magnitude.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812  # torch's own convention

from fednode.errors import AggregationInputError
from node.ml.aggregation._ops import check_updates, flatten, stack, unflatten
from node.ml.aggregation._types import AggregationResult, ClientUpdate, StateDict


@dataclass
class FLTrust:
    """``root_update`` is called once per round and returns the server's update on its root set.

    It must start from the same global model the sites started from this round (the experiments pass a closure
    around :func:`node.ml.ner.train_local`).
    """

    root_update: Callable[[], StateDict]
    name: str = "fltrust"

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        kept, rejected = check_updates(updates)
        keys = list(kept[0].update)
        root = self.root_update()
        if set(root) != set(keys):
            raise AggregationInputError("the server's root update has different keys from the sites' updates")
        g0 = flatten(root, keys)
        g0_norm = torch.linalg.vector_norm(g0)
        matrix = stack(kept, keys)
        norms = torch.linalg.vector_norm(matrix, dim=1).clamp_min(1e-12)
        trust = F.relu(F.cosine_similarity(matrix, g0[None, :].to(matrix.device), dim=1, eps=1e-12))
        total = float(trust.sum())
        info = {f"trust.{u.site}": float(t) for u, t in zip(kept, trust, strict=True)}
        info["root_norm"] = float(g0_norm)
        if total <= 0.0:
            # No site agrees with the server's direction: leave the global model where it is this round.
            zero = torch.zeros_like(g0)
            return AggregationResult(unflatten(zero, kept[0].update, keys), {u.site: 0.0 for u in kept}, rejected, info)
        rescaled = matrix * (g0_norm / norms)[:, None]
        result = (trust[:, None] * rescaled).sum(dim=0) / total
        return AggregationResult(
            update=unflatten(result, kept[0].update, keys),
            weights={u.site: float(t) / total for u, t in zip(kept, trust, strict=True)},
            rejected=rejected,
            info=info,
        )
