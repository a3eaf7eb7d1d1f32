"""The in-process federation: sites train with :func:`node.ml.ner.train_local`, the server aggregates with
:mod:`node.ml.aggregation`, the global model is evaluated on the test set after every round.

Each round also does what a real transport would: the server serialises the global state once and every site
reads its own copy of those bytes on the way down; each site serialises its update on the way up and the server
reads it (:mod:`node.ml.experiments.wire`, the safetensors layout), so bytes and the cost of (de)serialisation count.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from node.ml.aggregation import (
    Aggregator,
    ClientUpdate,
    Scaffold,
    apply_update,
    make_aggregator,
)
from node.ml.experiments.config import ExperimentConfig
from node.ml.experiments.wire import WireBuffer, unpack
from node.ml.ner import (
    EncodedDataset,
    NerModel,
    ScaffoldControls,
    StateDict,
    TrainConfig,
    encode,
    evaluate,
    read_conll,
    train_local,
)

log = logging.getLogger("fednode.node.ml.experiments")


@dataclass(frozen=True)
class RoundRecord:
    """One round: test scores of the new global model and where the time went."""

    round: int
    precision: float
    recall: float
    f1: float
    test_loss: float
    train_loss: float
    train_seconds: float
    transport_seconds: float
    aggregate_seconds: float
    eval_seconds: float
    bytes_down: int
    bytes_up: int
    accuracy: float = float("nan")  # token-level, over the positions the protocol scores

    @property
    def round_seconds(self) -> float:
        """Everything but evaluation (which a central run does too)."""
        return self.train_seconds + self.transport_seconds + self.aggregate_seconds


@dataclass
class RunResult:
    """One configuration's run (a federation, or the central baseline as a one-site run)."""

    name: str
    site_sizes: list[int]
    rounds: list[RoundRecord] = field(default_factory=list)

    @property
    def final(self) -> dict[str, float]:
        last = self.rounds[-1]
        return {"precision": last.precision, "recall": last.recall, "f1": last.f1, "accuracy": last.accuracy}

    def median_round_seconds(self) -> float:
        return statistics.median(r.round_seconds for r in self.rounds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "site_sizes": self.site_sizes,
            "final": self.final,
            "median_round_seconds": self.median_round_seconds(),
            "rounds": [{**asdict(r), "round_seconds": r.round_seconds} for r in self.rounds],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """Rebuild a run written by :meth:`as_dict` (benchmarks resume from their checkpoint file)."""
        names = RoundRecord.__dataclass_fields__.keys()
        rounds = [RoundRecord(**{k: r[k] for k in names if k in r}) for r in data["rounds"]]
        return cls(name=str(data["name"]), site_sizes=[int(x) for x in data["site_sizes"]], rounds=rounds)


def message_bytes(state: StateDict) -> int:
    """The size of ``state`` on the wire (header included)."""
    return len(WireBuffer().pack(state))


def _train_config(config: ExperimentConfig, rnd: int, site: int) -> TrainConfig:
    """The local training settings of one site in one round (its own, reproducible seed)."""
    return TrainConfig(
        epochs=config.local_epochs,
        batch_size=config.batch_size,
        lr=config.learning_rate,
        fedprox_mu=config.fedprox_mu,
        seed=config.seed * 1_000_003 + rnd * 1_009 + site,
        bf16=config.bf16,
        schedule=config.schedule,
        head_lr=config.head_lr,
        subword_labels=config.train_subwords,
    )


def _root_set(config: ExperimentConfig, model: NerModel) -> EncodedDataset:
    """FLTrust's small, clean server root set: the first ``extra["root_size"]`` (default 100) devel sentences (the
    re-split's validation sentences under ``flare-example``)."""
    size = int(config.extra.get("root_size", 100))
    if config.protocol != "standard":  # the protocol's own validation sentences, never its test ones
        from node.ml.experiments.protocol import encoder_for, load_splits

        devel = load_splits(config.protocol, config.data_dir).devel[:size]
        encoded: EncodedDataset = encoder_for(config.subword_labels)(devel, model.tokenizer)
        return encoded
    return encode(read_conll(config.data_dir / "devel.tsv", limit=size), model.tokenizer)


def run_federation(
    name: str,
    shards: Sequence[EncodedDataset],
    test: EncodedDataset,
    config: ExperimentConfig,
    *,
    model: NerModel,
    initial_state: StateDict,
    aggregator: Aggregator | None = None,
    central: bool = False,
) -> RunResult:
    """Train ``config.rounds`` rounds over the shards (one site each) and evaluate after every round.

    ``central=True`` (one shard) is the baseline: the same trainer and epochs, no transport and no aggregation,
    so its round time is the cost of one epoch on the pooled data.
    """
    if central and len(shards) != 1:
        raise ValueError("a central run has exactly one shard")
    n_sites = len(shards)
    state = {k: v.clone() for k, v in initial_state.items()}
    if aggregator is None:
        options: dict[str, Any] = {}
        if config.aggregator == "scaffold":
            options["total_sites"] = n_sites
        elif config.aggregator == "fltrust":
            root = _root_set(config, model)

            def root_update() -> StateDict:
                # the server's own update on its root set, from the same global model the sites started from
                return train_local(state, root, _train_config(config, 0, -1), model=model).update

            options["root_update"] = root_update
        aggregator = make_aggregator(config.aggregator, **options)
    agg = aggregator
    is_scaffold = isinstance(agg, Scaffold)
    local_controls: list[StateDict] = [{} for _ in shards]
    pinned = model.device.type == "cuda"  # device copies from and to page-locked host memory
    downlink = WireBuffer(pinned=pinned)
    uplinks = [WireBuffer(pinned=pinned) for _ in shards]
    result = RunResult(name=name, site_sizes=[len(s) for s in shards])
    for rnd in range(1, config.rounds + 1):
        updates: list[ClientUpdate] = []
        train_s = transport_s = 0.0
        bytes_down = bytes_up = 0
        losses: list[float] = []
        t0 = time.perf_counter()
        sent = downlink.pack(state) if not central else None
        transport_s += time.perf_counter() - t0
        for i, shard in enumerate(shards):
            t0 = time.perf_counter()
            site_state = unpack(sent) if sent is not None else state
            transport_s += time.perf_counter() - t0
            bytes_down += len(sent) if sent is not None else 0
            tc = _train_config(config, rnd, i)
            controls = ScaffoldControls(agg.global_control, local_controls[i]) if is_scaffold else None  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            local = train_local(
                site_state,
                shard,
                tc,
                model=model,
                scaffold=controls,
                progress=config.progress,
                desc=f"{name} r{rnd} site-{i + 1}",
                update_on_device=True,
            )
            train_s += time.perf_counter() - t0
            losses.append(local.metrics["train_loss"])
            if local.local_control is not None:
                local_controls[i] = local.local_control
            t0 = time.perf_counter()
            if central:
                update = local.update
            else:
                message = uplinks[i].pack(local.update)
                update = unpack(message)
                bytes_up += len(message)
            transport_s += time.perf_counter() - t0
            updates.append(ClientUpdate(f"site-{i + 1}", update, local.num_examples, local.control_delta))
        t0 = time.perf_counter()
        aggregated = agg.aggregate(updates).update if not central else updates[0].update
        state = apply_update(state, aggregated)
        aggregate_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        level = "word" if config.protocol == "standard" else "subword"
        scores = evaluate(state, test, model=model, batch_size=config.eval_batch_size, level=level)
        eval_s = time.perf_counter() - t0
        record = RoundRecord(
            round=rnd,
            precision=scores.scores.precision,
            recall=scores.scores.recall,
            f1=scores.scores.f1,
            test_loss=scores.loss,
            train_loss=sum(losses) / len(losses),
            train_seconds=train_s,
            transport_seconds=transport_s,
            aggregate_seconds=aggregate_s,
            eval_seconds=eval_s,
            bytes_down=bytes_down,
            bytes_up=bytes_up,
            accuracy=scores.accuracy,
        )
        result.rounds.append(record)
        log.info("experiment.round name=%s round=%d f1=%.4f seconds=%.2f", name, rnd, record.f1, record.round_seconds)
    return result
