"""What one experiment run is configured with (framework-free: no pydantic, so it runs on a bare GPU box)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fednode.bundled import bundled
from fednode.errors import ConfigError
from node.ml.fine_tuning import CLI_FLAGS, check_fine_tuning

DATA_DIR = bundled("ncbi-disease")
"""The bundled NCBI-disease corpus (package data of ``fednode``)."""

STANDARD = "standard"
FLARE_EXAMPLE = "flare-example"
PROTOCOLS: tuple[str, ...] = (STANDARD, FLARE_EXAMPLE)
"""The evaluation protocols (:mod:`node.ml.experiments.protocol`)."""
SUBWORD_LABELS: tuple[str, ...] = ("first", "all", "continue")
"""``first``: the first piece of each word labelled; ``all`` (flare-example): every piece labelled and scored;
``continue``: the later pieces trained as the word's continuation, scored on the first piece (either protocol)."""


def check_protocol(name: str, subword_labels: str = "first") -> None:
    """Refuse an unknown protocol or sub-word labelling (ConfigError naming the choices)."""
    if name not in PROTOCOLS:
        raise ConfigError(f"--protocol: unknown protocol {name!r}; use one of: {', '.join(PROTOCOLS)}")
    if subword_labels not in SUBWORD_LABELS:
        raise ConfigError(
            f"--subword-labels: unknown labelling {subword_labels!r}; use one of: {', '.join(SUBWORD_LABELS)}"
        )
    if name == STANDARD and subword_labels == "all":
        raise ConfigError(
            "--subword-labels: the standard protocol scores the first sub-word of each word (first or continue)"
        )


@dataclass(frozen=True)
class ExperimentConfig:
    """Size and hyper-parameters shared by every configuration of an experiment (and the central baseline).

    ``lr`` None picks 5e-5 for a pretrained checkpoint and 3e-3 for the tiny random BERT. ``train_limit`` keeps
    the first N training sentences before sharding; ``test_limit`` the first N test sentences (quick runs only:
    the reported figures use the whole standard test set). ``protocol`` is ``standard`` (official split,
    word-level scoring) or ``flare-example`` (NVIDIA FLARE's example: random 80/10/10 re-split, scored over
    labelled sub-word positions); ``subword_labels`` ``all`` labels every sub-word piece (flare-example only),
    ``continue`` trains the later pieces as the word's continuation (:mod:`node.ml.ner.subwords`). See
    :mod:`node.ml.experiments.protocol`. ``schedule`` and ``head_lr`` shape each local training call
    (:mod:`node.ml.fine_tuning`); the CRF output layer is part of ``model`` (``minilm+crf``).
    """

    rounds: int = 20
    local_epochs: int = 1
    model: str = "minilm"
    train_limit: int | None = None
    test_limit: int | None = None
    device: str = "cpu"
    seed: int = 0
    batch_size: int = 16
    lr: float | None = None
    bf16: bool = False
    aggregator: str = "fedavg"
    fedprox_mu: float = 0.0
    data_dir: Path = DATA_DIR
    eval_batch_size: int = 64
    progress: bool = True
    protocol: str = "standard"
    subword_labels: str = "first"
    schedule: str = "constant"
    head_lr: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_protocol(self.protocol, self.subword_labels)
        check_fine_tuning(schedule=self.schedule, head_lr=self.head_lr, names=CLI_FLAGS)
        if self.rounds < 1 or self.local_epochs < 1 or self.batch_size < 1:
            raise ConfigError("rounds, local_epochs and batch_size must be at least 1")
        if self.train_limit is not None and self.train_limit < 1:
            raise ConfigError("train_limit must be positive")

    @property
    def train_subwords(self) -> str:
        """The training sub-word labelling of :class:`node.ml.ner.TrainConfig` (``continue`` or ``first``)."""
        return "continue" if self.subword_labels == "continue" else "first"

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 3e-3 if self.model.removesuffix("+crf") == "tiny" else 5e-5

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["data_dir"] = str(self.data_dir)
        d["learning_rate"] = self.learning_rate
        d.pop("progress")
        return d


def parse_sites(text: str) -> list[int]:
    """``"2,4,6"`` -> ``[2, 4, 6]``."""
    try:
        sites = [int(p) for p in text.split(",") if p.strip()]
    except ValueError as exc:
        raise ConfigError(f"--sites takes comma-separated integers, got {text!r}") from exc
    if not sites or any(s < 1 for s in sites):
        raise ConfigError(f"--sites needs positive site counts, got {text!r}")
    return sites


def parse_shares(text: str) -> list[tuple[float, ...]]:
    """``"50/50,75/25,90/10"`` -> ``[(50, 50), (75, 25), (90, 10)]``."""
    out: list[tuple[float, ...]] = []
    for group in (g.strip() for g in text.split(",")):
        if not group:
            continue
        try:
            shares = tuple(float(p) for p in group.split("/"))
        except ValueError as exc:
            raise ConfigError(f"--shares takes groups like 75/25, got {group!r}") from exc
        if len(shares) < 2 or any(s <= 0 for s in shares):
            raise ConfigError(f"a share group needs two or more positive parts, got {group!r}")
        out.append(shares)
    if not out:
        raise ConfigError("--shares is empty")
    return out


def shares_label(shares: tuple[float, ...]) -> str:
    return "/".join(f"{s:g}" for s in shares)
