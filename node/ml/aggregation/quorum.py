"""Quorum: aggregate whatever arrived this round, provided at least ``min_clients`` sites reported."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from fednode.errors import AggregationInputError, ConfigError, QuorumNotMetError
from node.ml.aggregation._types import AggregationResult, Aggregator, ClientUpdate

log = logging.getLogger("fednode.node.ml.aggregation.quorum")


@dataclass
class Quorum:
    """Wraps another aggregator; a round with fewer than ``min_clients`` updates raises QuorumNotMetError.

    ``expected_sites`` (optional) lets the result say who was missing: ``info["missing"]`` counts them and the
    log names them (site names only).
    """

    inner: Aggregator
    min_clients: int
    expected_sites: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_clients < 1:
            raise ConfigError(f"min_clients must be at least 1, got {self.min_clients}")

    @property
    def name(self) -> str:
        return self.inner.name

    def aggregate(self, updates: Sequence[ClientUpdate]) -> AggregationResult:
        arrived = {u.site for u in updates}
        if len(arrived) != len(updates):
            raise AggregationInputError("a site sent more than one update in one round")
        if len(updates) < self.min_clients:
            raise QuorumNotMetError(
                f"{len(updates)} of the required {self.min_clients} site updates arrived",
                arrived=len(updates),
                required=self.min_clients,
            )
        missing = sorted(set(self.expected_sites) - arrived)
        if missing:
            log.warning("aggregation.quorum_partial arrived=%d missing=%s", len(updates), ",".join(missing))
        result = self.inner.aggregate(updates)
        info = dict(result.info)
        info["arrived"] = float(len(updates))
        info["missing"] = float(len(missing))
        return AggregationResult(result.update, result.weights, result.rejected, info)
