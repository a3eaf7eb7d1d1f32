"""Server-side aggregation of site updates, framework-free (plain ``dict[str, torch.Tensor]``).

Every aggregator takes the round's :class:`ClientUpdate` objects (site name, ``update`` = local - global over
the floating-point state-dict entries, ``num_examples``, and SCAFFOLD's ``control_delta``) and returns an
:class:`AggregationResult` whose ``update`` the server adds to the global model with :func:`apply_update`.

Rules:

=======================  =====================================================================================
``FedAvg``               example-weighted mean (``FedProx()`` is the same rule under its own name)
``Scaffold``             weighted mean plus the global control variate (``.global_control``, send it to sites)
``CoordinateMedian``     per-coordinate median
``TrimmedMean``          per-coordinate mean after trimming ``trim_ratio`` from each end
``GeometricMedian``      smoothed Weiszfeld (RFA)
``NormClipping``         clip each update to τ (default: this round's median norm), then weighted mean
``FLTrust``              cosine trust against the server's own update on a root set, magnitude-normalised
``Quorum``               wraps any of the above; refuses a round with fewer than ``min_clients`` updates
=======================  =====================================================================================

``make_aggregator("median")`` builds one by name (names in :data:`AGGREGATORS`). Updates with non-finite
values are dropped (their site listed in ``result.rejected``); mismatched keys or shapes raise
:class:`fednode.errors.AggregationInputError`.

Example (server side, one round)::

    from node.ml.aggregation import ClientUpdate, apply_update, make_aggregator
    agg = make_aggregator("trimmed_mean", trim_ratio=0.2)
    result = agg.aggregate([ClientUpdate("site-1", upd1, 812), ClientUpdate("site-2", upd2, 640)])
    global_state = apply_update(global_state, result.update)
"""

from __future__ import annotations

from typing import Any

from node.ml.aggregation._ops import apply_update, difference, float_keys, l2_norm, zeros_like
from node.ml.aggregation._types import AggregationResult, Aggregator, ClientUpdate, StateDict
from node.ml.aggregation.clipping import NormClipping
from node.ml.aggregation.fedavg import FedAvg, FedProx
from node.ml.aggregation.fltrust import FLTrust
from node.ml.aggregation.geometric_median import GeometricMedian
from node.ml.aggregation.median import CoordinateMedian
from node.ml.aggregation.quorum import Quorum
from node.ml.aggregation.scaffold import Scaffold
from node.ml.aggregation.trimmed_mean import TrimmedMean
from node.ml.algorithms import AGGREGATORS


def make_aggregator(name: str, **options: Any) -> Aggregator:
    """Build an aggregator by name; ``options`` go to its constructor.

    ``scaffold`` needs ``total_sites``; ``fltrust`` needs ``root_update`` (a callable returning the server's
    update on its root set); ``min_clients`` (any rule) wraps the result in :class:`Quorum`.
    """
    from fednode.errors import ConfigError

    min_clients = options.pop("min_clients", None)
    builders: dict[str, Any] = {
        "fedavg": FedAvg,
        "fedprox": FedProx,
        "scaffold": Scaffold,
        "median": CoordinateMedian,
        "trimmed_mean": TrimmedMean,
        "geometric_median": GeometricMedian,
        "norm_clipping": NormClipping,
        "fltrust": FLTrust,
    }
    if name not in builders:
        raise ConfigError(f"unknown aggregator {name!r}; choose one of {', '.join(AGGREGATORS)}")
    try:
        aggregator: Aggregator = builders[name](**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for aggregator {name!r}: {exc}") from exc
    if min_clients is not None:
        return Quorum(aggregator, int(min_clients))
    return aggregator


__all__ = [
    "AGGREGATORS",
    "AggregationResult",
    "Aggregator",
    "ClientUpdate",
    "CoordinateMedian",
    "FLTrust",
    "FedAvg",
    "FedProx",
    "GeometricMedian",
    "NormClipping",
    "Quorum",
    "Scaffold",
    "StateDict",
    "TrimmedMean",
    "apply_update",
    "difference",
    "float_keys",
    "l2_norm",
    "make_aggregator",
    "zeros_like",
]
