"""Shared helpers for the NER, aggregation and experiment tests: the tiny BERT and the mini corpus."""

from __future__ import annotations

from pathlib import Path

import torch

from node.ml.aggregation import ClientUpdate

MINI = Path(__file__).resolve().parents[2] / "data" / "ncbi-disease-mini"


def honest_and_poisoned(
    n_honest: int = 5, dim: int = 400, *, attack: str = "scale", seed: int = 0
) -> tuple[list[ClientUpdate], dict[str, torch.Tensor]]:
    """``n_honest`` updates scattered around a common direction plus one poisoned site; also the honest mean.

    ``attack``: ``scale`` (100x an honest update), ``flip`` (-100x) or ``noise`` (large random values).
    """
    gen = torch.Generator().manual_seed(seed)
    direction = torch.randn(dim, generator=gen)
    honest = [direction + 0.3 * torch.randn(dim, generator=gen) for _ in range(n_honest)]
    if attack == "scale":
        bad = 100.0 * honest[0]
    elif attack == "flip":
        bad = -100.0 * honest[0]
    else:
        bad = 50.0 * torch.randn(dim, generator=gen)

    def as_update(v: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"layer.weight": v[: dim // 2].reshape(10, -1).clone(), "layer.bias": v[dim // 2 :].clone()}

    updates = [ClientUpdate(f"site-{i + 1}", as_update(v), 100) for i, v in enumerate(honest)]
    updates.append(ClientUpdate("site-evil", as_update(bad), 100))
    mean = torch.stack(honest).mean(dim=0)
    return updates, as_update(mean)


def distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """L2 distance between two update dicts."""
    return float(torch.sqrt(sum(((a[k] - b[k]) ** 2).sum() for k in a)))
