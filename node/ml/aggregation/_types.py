"""Value types every aggregator shares: a site's update in, an aggregated update out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch

StateDict = dict[str, torch.Tensor]
"""A plain torch state dict (or an update: local weights minus global weights), keyed by parameter name."""


@dataclass(frozen=True)
class ClientUpdate:
    """One site's contribution to a round.

    ``update`` is the difference local - global over the floating-point entries of the model's state dict.
    ``control_delta`` is SCAFFOLD's change of the site's control variate (None for other algorithms).
    """

    site: str
    update: StateDict
    num_examples: int
    control_delta: StateDict | None = None


@dataclass(frozen=True)
class AggregationResult:
    """What an aggregator returns: the update to add to the global model, and how each site was weighted.

    ``weights`` holds the normalised weight each site's update effectively received (a robust rule may give a
    site 0); ``rejected`` names sites whose update was dropped before aggregation (non-finite values);
    ``info`` carries numeric diagnostics (trust scores, clip threshold, Weiszfeld iterations).
    """

    update: StateDict
    weights: dict[str, float]
    rejected: tuple[str, ...] = ()
    info: dict[str, float] = field(default_factory=dict)


class Aggregator(Protocol):
    """Anything that turns the updates of one round into one global update."""

    @property
    def name(self) -> str:
        """The rule's name as configured in a job (``fedavg``, ``median``, ...)."""
        ...

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        """Aggregate the updates that arrived this round (at least one)."""
        ...
