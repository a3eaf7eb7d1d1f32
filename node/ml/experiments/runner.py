"""The paper's two experiments: number of sites (even shares) and data imbalance (skewed shares), each against
a central baseline trained on the same data with the same budget of epochs."""

from __future__ import annotations

import logging
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from node.ml.experiments.config import ExperimentConfig, shares_label
from node.ml.experiments.protocol import encoder_for, load_splits
from node.ml.experiments.simulation import RunResult, message_bytes, run_federation
from node.ml.ner import (
    EncodedDataset,
    NerExample,
    NerModel,
    StateDict,
    count_entities,
    encode,
    load_ner_model,
    shard,
)

log = logging.getLogger("fednode.node.ml.experiments")

CENTRAL = "Central"


@dataclass
class ExperimentContext:
    """Loaded once per process: the model (same initial weights for every run), the data, the encodings."""

    config: ExperimentConfig
    model: NerModel
    initial_state: StateDict
    train: list[NerExample]
    test: EncodedDataset
    central: RunResult | None = None

    @classmethod
    def load(cls, config: ExperimentConfig) -> ExperimentContext:
        """Read the protocol's split (``train_limit`` / ``test_limit`` keep the first N), load the model."""
        splits = load_splits(config.protocol, config.data_dir)
        train = splits.train[: config.train_limit] if config.train_limit is not None else splits.train
        test_examples = splits.test[: config.test_limit] if config.test_limit is not None else splits.test
        model = load_ner_model(config.model, device=config.device, seed=config.seed)
        return cls(config, model, model.state(), train, _encode(config, test_examples, model))

    def encode_shards(self, shares: Sequence[float]) -> list[EncodedDataset]:
        parts = shard(self.train, shares, seed=self.config.seed)
        return [_encode(self.config, part, self.model) for part in parts]

    def run_central(self) -> RunResult:
        """The central baseline (computed once, shared by both experiments)."""
        if self.central is None:
            data = _encode(self.config, self.train, self.model)
            self.central = run_federation(
                CENTRAL,
                [data],
                self.test,
                self.config,
                model=self.model,
                initial_state=self.initial_state,
                central=True,
            )
        return self.central


def _encode(config: ExperimentConfig, examples: Sequence[NerExample], model: NerModel) -> EncodedDataset:
    """Encode with the configuration's sub-word labelling."""
    encoded: EncodedDataset = encoder_for(config.subword_labels)(examples, model.tokenizer)
    return encoded


@dataclass
class ExperimentReport:
    """One experiment: a run per configuration plus the central baseline, and the facts needed to reproduce it."""

    kind: str
    config: ExperimentConfig
    runs: list[RunResult]
    central: RunResult
    data: dict[str, int]
    hardware: dict[str, Any]
    seconds: float
    overhead: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[RunResult]:
        return [*self.runs, self.central]

    def as_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.kind,
            "config": self.config.as_dict(),
            "data": self.data,
            "hardware": self.hardware,
            "seconds": self.seconds,
            "table": {r.name: r.final for r in self.columns},
            "runs": [r.as_dict() for r in self.columns],
            "overhead": self.overhead,
        }


def hardware_info(device: str) -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _data_facts(ctx: ExperimentContext) -> dict[str, int]:
    return {
        "train_sentences": len(ctx.train),
        "train_mentions": count_entities(ctx.train),
        "test_sentences": len(ctx.test),
        "test_mentions": count_entities(ctx.test.examples),
    }


def run_overhead_from_runs(runs: Sequence[RunResult], central: RunResult) -> dict[str, Any]:
    """Per configuration: median round time (train + transport + aggregation) against the median central epoch."""
    base = central.median_round_seconds()
    out: dict[str, Any] = {"central_epoch_seconds": base, "configurations": {}}
    for run in runs:
        med = run.median_round_seconds()
        out["configurations"][run.name] = {
            "round_seconds": med,
            "overhead_pct": 100.0 * (med - base) / base if base > 0 else None,
            "bytes_per_round": statistics.median(r.bytes_down + r.bytes_up for r in run.rounds),
        }
    return out


def run_experiment(
    kind: str, configurations: Sequence[tuple[str, Sequence[float]]], ctx: ExperimentContext
) -> ExperimentReport:
    """Run each named share vector as a federation, then the central baseline (reused when already run)."""
    started = time.perf_counter()
    runs = []
    for name, shares in configurations:
        shards = ctx.encode_shards(shares)
        log.info("experiment.start kind=%s name=%s sizes=%s", kind, name, [len(s) for s in shards])
        runs.append(
            run_federation(name, shards, ctx.test, ctx.config, model=ctx.model, initial_state=ctx.initial_state)
        )
    central = ctx.run_central()
    return ExperimentReport(
        kind=kind,
        config=ctx.config,
        runs=runs,
        central=central,
        data=_data_facts(ctx),
        hardware=hardware_info(ctx.config.device),
        seconds=time.perf_counter() - started,
        overhead=run_overhead_from_runs(runs, central),
    )


def run_configuration(config: ExperimentConfig, name: str, shares: Sequence[float] | None) -> dict[str, Any]:
    """One configuration from scratch, as a dict: for worker processes (own model copy, same seed, so the
    same initial weights). ``shares`` None runs the central baseline."""
    ctx = ExperimentContext.load(config)
    if shares is None:
        return ctx.run_central().as_dict()
    shards = ctx.encode_shards(shares)
    return run_federation(name, shards, ctx.test, config, model=ctx.model, initial_state=ctx.initial_state).as_dict()


def clients_configurations(sites: Sequence[int]) -> list[tuple[str, list[float]]]:
    """Even shares: ``[2, 4]`` -> ``[("2 sites", [1, 1]), ("4 sites", [1, 1, 1, 1])]``."""
    return [(f"{n} sites", [1.0] * n) for n in sites]


def imbalance_configurations(shares: Sequence[tuple[float, ...]]) -> list[tuple[str, list[float]]]:
    """Skewed shares: ``[(75, 25)]`` -> ``[("75/25", [75, 25])]``."""
    return [(shares_label(s), list(s)) for s in shares]


def measure_overhead(
    ctx: ExperimentContext, *, sites: int = 2, sentences: int = 160, repeats: int = 3
) -> dict[str, Any]:
    """Federation overhead per round against a central epoch on the same data, measured back to back.

    Interleaves a central epoch and a ``sites``-site round (train + serialisation both ways + FedAvg) over the
    same ``sentences`` sentences, ``repeats`` times, and reports medians: shared-machine noise hits both alike.
    """
    cfg = replace(ctx.config, rounds=1, progress=False)
    subset = ctx.train[:sentences]
    pooled = encode(subset, ctx.model.tokenizer)
    shards = [encode(part, ctx.model.tokenizer) for part in shard(subset, [1.0] * sites, seed=cfg.seed)]
    empty = encode(subset[:1], ctx.model.tokenizer)
    central_s: list[float] = []
    fed_s: list[float] = []
    for _ in range(repeats):
        c = run_federation(
            CENTRAL, [pooled], empty, cfg, model=ctx.model, initial_state=ctx.initial_state, central=True
        )
        f = run_federation("fl", shards, empty, cfg, model=ctx.model, initial_state=ctx.initial_state)
        central_s.append(c.rounds[0].round_seconds)
        fed_s.append(f.rounds[0].round_seconds)
    c_med, f_med = statistics.median(central_s), statistics.median(fed_s)
    model_bytes = message_bytes(ctx.initial_state)
    bytes_round = f.rounds[0].bytes_down + f.rounds[0].bytes_up
    return {
        "sites": sites,
        "sentences": len(subset),
        "repeats": repeats,
        "central_epoch_seconds": c_med,
        "federated_round_seconds": f_med,
        "overhead_pct": 100.0 * (f_med - c_med) / c_med,
        "transport_seconds": f.rounds[0].transport_seconds,
        "aggregate_seconds": f.rounds[0].aggregate_seconds,
        "bytes_per_round": bytes_round,
        "bytes_floor": 2 * model_bytes * sites,
        "model_bytes": model_bytes,
        "device": cfg.device,
    }
