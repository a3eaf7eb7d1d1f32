"""The aggregation rules a study may name, without importing them (torch): checked before anything starts."""

from __future__ import annotations

from fednode.errors import ConfigError

AGGREGATORS: tuple[str, ...] = (
    "fedavg",
    "fedprox",
    "scaffold",
    "median",
    "trimmed_mean",
    "geometric_median",
    "norm_clipping",
    "fltrust",
)
"""Every name :func:`node.ml.aggregation.make_aggregator` builds."""


def check_algorithm(name: str, option: str = "--algorithm") -> None:
    """Raise :class:`ConfigError` (exit 2) naming ``option`` when ``name`` is not a known aggregation rule."""
    if name not in AGGREGATORS:
        raise ConfigError(f"{option} {name!r}: not an aggregation rule; choose one of {', '.join(AGGREGATORS)}")
