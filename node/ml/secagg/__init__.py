"""Pairwise-masking secure aggregation (Bonawitz et al. 2017): the coordinator learns the sum, not an update.

Pure protocol code (numpy and the ``cryptography`` library; no NVFlare): :class:`SecAggClient` is one site's side
of one round, :class:`SecAggServer` the coordinator's. The ring and fixed-point scale are in :class:`FixedPoint`;
the identities that sign the key advertisements come from the startup kits (:class:`SiteIdentity`,
:class:`TrustAnchor`). docs/secure-aggregation.md has the threat model.

Example (one round, every site answers)::

    server = SecAggServer(ctx)
    adverts = server.collect_adverts({c.site: c.advertise(n[c.site]) for c in clients})
    routed = server.route_shares({c.site: c.share(adverts) for c in clients})
    for c in clients:
        server.add_masked(c.site, c.mask(update[c.site], routed[c.site]))
    survivors = server.unmask_request()
    result = server.finish({c.site: c.unmask(survivors) for c in clients})
    fedavg = result.mean()
"""

from __future__ import annotations

from node.ml.secagg._identity import SiteIdentity, TrustAnchor
from node.ml.secagg._protocol import Advert, RoundContext, SecAggClient, SecAggServer, SecAggSum, check_threshold
from node.ml.secagg._ring import FixedPoint, Layout

COMPATIBLE_AGGREGATORS = frozenset({"fedavg", "fedprox"})
"""The rules whose server side is a weighted sum, all that secure aggregation reveals."""
INDIVIDUAL_UPDATE_AGGREGATORS = frozenset(
    {"median", "trimmed_mean", "geometric_median", "fltrust", "norm_clipping", "scaffold"}
)
"""Rules that need each site's update (or SCAFFOLD's per-site control delta) in the clear: robust aggregators
cannot be combined with secure aggregation, and a study asking for both is refused."""


def default_threshold(sites: int) -> int:
    """The smallest safe threshold for ``sites`` advertised sites: a strict majority, at least 2."""
    return max(2, sites // 2 + 1)


__all__ = [
    "COMPATIBLE_AGGREGATORS",
    "INDIVIDUAL_UPDATE_AGGREGATORS",
    "Advert",
    "FixedPoint",
    "Layout",
    "RoundContext",
    "SecAggClient",
    "SecAggServer",
    "SecAggSum",
    "SiteIdentity",
    "TrustAnchor",
    "check_threshold",
    "default_threshold",
]
