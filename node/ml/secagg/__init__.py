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

META_KEY = "fednode_secagg"
"""The task and result meta entry that carries a secure-aggregation stage's message (both directions)."""
ADVERTISE_TASK = "secagg_advertise"
SHARE_TASK = "secagg_share"
UNMASK_TASK = "secagg_unmask"
TASKS = (ADVERTISE_TASK, SHARE_TASK, UNMASK_TASK)
"""The extra tasks of a securely aggregated round, besides the train task that carries the masked input."""

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


def study_refusal(algorithm: str, sites: int, threshold: int | None = None) -> str | None:
    """Why a study with ``algorithm`` over ``sites`` sites cannot be securely aggregated, or ``None``."""
    if algorithm not in COMPATIBLE_AGGREGATORS:
        return (
            f"secure aggregation cannot be combined with {algorithm}: it needs each site's update in the clear "
            f"(securely aggregated studies use {' or '.join(sorted(COMPATIBLE_AGGREGATORS))})"
        )
    t = threshold if threshold is not None else default_threshold(sites)
    if sites < 2 or t > sites:
        return f"secure aggregation needs at least {max(2, t)} sites, the study has {sites}"
    if t < 2 or 2 * t <= sites:
        return f"a secure-aggregation threshold of {t} is not a majority of the {sites} sites (at least 2)"
    return None


__all__ = [
    "ADVERTISE_TASK",
    "COMPATIBLE_AGGREGATORS",
    "INDIVIDUAL_UPDATE_AGGREGATORS",
    "META_KEY",
    "SHARE_TASK",
    "TASKS",
    "UNMASK_TASK",
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
    "study_refusal",
]
