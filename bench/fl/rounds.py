"""One federated round's ingredients, built the way ``bench.fl`` times a round (for benches that set a round's
cost against something the coordinator adds to it: ``bench.checkpoint``, ``bench.credit``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from node.ml.experiments import ExperimentConfig, ExperimentContext, run_federation
from node.ml.ner import encode, shard


@dataclass(frozen=True)
class RoundBench:
    """A loaded model, its even shards over the first sentences, and the global state they start from."""

    ctx: ExperimentContext
    config: ExperimentConfig
    shards: list[Any]
    empty: Any
    state: dict[str, torch.Tensor]
    sentences: int

    @classmethod
    def load(cls, model: str, sentences: int, sites: int, device: str) -> RoundBench:
        """``sentences`` training sentences split evenly over ``sites`` (one round, no evaluation)."""
        cfg = ExperimentConfig(
            rounds=1, model=model, train_limit=sentences, test_limit=8, device=device, progress=False
        )
        ctx = ExperimentContext.load(cfg)
        cfg = replace(ctx.config, rounds=1, progress=False)
        subset = ctx.train[:sentences]
        shards = [encode(part, ctx.model.tokenizer) for part in shard(subset, [1.0] * sites, seed=cfg.seed)]
        state = {k: v.detach().cpu().clone() for k, v in ctx.initial_state.items()}
        return cls(ctx, cfg, shards, encode(subset[:1], ctx.model.tokenizer), state, len(subset))

    def round_seconds(self) -> float:
        """One round of local training, serialisation both ways and FedAvg, in one process."""
        run = run_federation(
            "fl", self.shards, self.empty, self.config, model=self.ctx.model, initial_state=self.ctx.initial_state
        )
        return float(run.rounds[0].round_seconds)
