"""FLTrust's server root set at the coordinator, and the server's own update on it each round.

FLTrust (:class:`node.ml.aggregation.FLTrust`) scores each site's update by its cosine with an update the server
computes itself, from the same global model, on a small clean root set. The coordinator holds no patient data,
so its root set is public text: by default the first :data:`DEFAULT_ROOT_SIZE` sentences of the bundled
NCBI-disease devel set (any CoNLL file at the coordinator works). It trains with the sites' model spec and
training settings (``root_train``: the executor's ``local_epochs``, ``batch_size``, ``learning_rate``, ``seed``,
``fedprox_mu``, ``max_steps``, ``schedule``, ``head_lr``, ``subword_labels``; the study puts the same values on
both sides), seeded per round as the sites are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fednode.bundled import bundled
from fednode.errors import ConfigError
from node.ml.fine_tuning import check_fine_tuning

if TYPE_CHECKING:
    import torch

    from node.ml.ner import EncodedDataset, NerModel, TrainConfig

DEFAULT_ROOT_SIZE = 100
DEFAULT_ROOT_SET = bundled("ncbi-disease", "devel.tsv")
"""The bundled NCBI-disease devel set (public sentences; package data of ``fednode``)."""
ROOT_TRAIN_KEYS = (
    "local_epochs",
    "batch_size",
    "learning_rate",
    "seed",
    "fedprox_mu",
    "max_steps",
    "schedule",
    "head_lr",
    "subword_labels",
)
"""Executor arguments that shape local training: the root update uses the sites' values for each."""
_ROOT_NAMES = {k: f"root_train {k}" for k in ("schedule", "head_lr", "subword_labels")}


def root_train_args(executor_args: Mapping[str, Any]) -> dict[str, Any]:
    """The training settings of the sites' executor that the root update must share."""
    return {k: executor_args[k] for k in ROOT_TRAIN_KEYS if k in executor_args}


def train_config(args: Mapping[str, Any]) -> TrainConfig:
    """``TrainConfig`` from executor-style arguments (the executor's defaults where one is not given)."""
    from node.ml.ner import TrainConfig

    unknown = sorted(set(args) - set(ROOT_TRAIN_KEYS))
    if unknown:
        raise ConfigError(f"root_train: unknown settings {unknown}; use {', '.join(ROOT_TRAIN_KEYS)}")
    max_steps = args.get("max_steps")
    head_lr = args.get("head_lr")
    fine = {"schedule": args.get("schedule", "constant"), "head_lr": head_lr}
    check_fine_tuning(**fine, subword_labels=args.get("subword_labels", "first"), names=_ROOT_NAMES)
    return TrainConfig(
        epochs=int(args.get("local_epochs", 1)),
        batch_size=int(args.get("batch_size", 16)),
        lr=float(args.get("learning_rate", 5e-5)),
        seed=int(args.get("seed", 0)),
        fedprox_mu=float(args.get("fedprox_mu", 0.0)),
        max_steps=int(max_steps) if max_steps is not None else None,
        schedule=str(args.get("schedule", "constant")),
        head_lr=float(head_lr) if head_lr is not None else None,
        subword_labels=str(args.get("subword_labels", "first")),
    )


@dataclass
class RootSet:
    """The coordinator's root set and model; :meth:`update` is the server update FLTrust compares sites with."""

    path: Path
    model_spec: str
    config: TrainConfig
    size: int = DEFAULT_ROOT_SIZE
    seed: int = 0
    _loaded: tuple[NerModel, EncodedDataset] | None = field(default=None, init=False, repr=False)

    def prepare(self) -> int:
        """Load the model and encode the root set (once); return its number of sentences."""
        return len(self._load()[1])

    def update(self, global_state: Mapping[str, torch.Tensor], round_: int) -> dict[str, torch.Tensor]:
        """Train from ``global_state`` on the root set, seeded for ``round_`` as the sites are; local - global."""
        from node.ml.ner import train_local

        model, data = self._load()
        config = replace(self.config, seed=self.config.seed + round_)
        return train_local(dict(global_state), data, config, model=model, desc=f"root set r{round_}").update

    def _load(self) -> tuple[NerModel, EncodedDataset]:
        if self._loaded is None:
            from node.ml.ner import encode_for, load_ner_model, read_conll

            if self.size < 1:
                raise ConfigError(f"root_size must be at least 1, got {self.size}")
            if not self.path.is_file():
                raise ConfigError(f"FLTrust root set {self.path}: no such file at the coordinator")
            examples = read_conll(self.path, limit=self.size)
            if not examples:
                raise ConfigError(f"FLTrust root set {self.path}: no sentences")
            model = load_ner_model(self.model_spec, seed=self.seed)
            self._loaded = (model, encode_for(examples, model))
        return self._loaded
