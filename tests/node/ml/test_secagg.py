"""Secure aggregation's protocol core: the unmasked sum is FedAvg, one site's input looks uniform, dropouts are
recovered, substituted keys are caught, and a round below its threshold fails with a reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import torch

from fednode.errors import ConfigError, SecureAggregationError, SignatureError
from node.ml.aggregation import ClientUpdate, FedAvg
from node.ml.secagg import FixedPoint, RoundContext, SecAggClient, SecAggServer, SecAggSum, _shamir, default_threshold
from tests.node.ml.secagg_support import NOW, Pki, counter_bytes

Arr = np.ndarray[Any, Any]
SHAPES = {"encoder.w": (6, 5), "encoder.b": (5,), "head.w": (3, 5)}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def _updates(sites: Sequence[str], seed: int = 0) -> dict[str, dict[str, Arr]]:
    rng = np.random.default_rng(seed)
    return {
        s: {k: (rng.standard_normal(shape) * 1e-3).astype(np.float32) for k, shape in SHAPES.items()} for s in sites
    }


def _clients(pki: Pki, ctx: RoundContext, sites: Sequence[str]) -> dict[str, SecAggClient]:
    return {
        s: SecAggClient(pki.identity(s), pki.anchor, ctx, randbytes=counter_bytes(s), now=lambda: NOW) for s in sites
    }


def _run(
    pki: Pki,
    sites: Sequence[str],
    updates: Mapping[str, Mapping[str, Arr]],
    counts: Mapping[str, int],
    *,
    threshold: int | None = None,
    drop_after_share: Sequence[str] = (),
) -> SecAggSum:
    ctx = RoundContext("job-1", 0, threshold or default_threshold(len(sites)))
    clients = _clients(pki, ctx, sites)
    server = SecAggServer(ctx)
    adverts = server.collect_adverts({s: c.advertise(counts[s]) for s, c in clients.items()})
    routed = server.route_shares({s: c.share(adverts) for s, c in clients.items()})
    alive = [s for s in sites if s not in drop_after_share]
    for s in alive:
        server.add_masked(s, clients[s].mask(updates[s], routed[s]))
    survivors = server.unmask_request()
    return server.finish({s: clients[s].unmask(survivors) for s in survivors})


def _fedavg(
    updates: Mapping[str, Mapping[str, Arr]], counts: Mapping[str, int], sites: Sequence[str]
) -> dict[str, Arr]:
    result = FedAvg().aggregate(
        [ClientUpdate(s, {k: torch.from_numpy(v) for k, v in updates[s].items()}, counts[s]) for s in sites]
    )
    return {k: v.double().numpy() for k, v in result.update.items()}


@pytest.mark.parametrize("n", [2, 4, 6])
def test_unmasked_sum_is_fedavg(pki: Pki, n: int) -> None:
    sites = [f"site-{i}" for i in range(1, n + 1)]
    updates = _updates(sites, seed=n)
    counts = {s: 10 * (i + 1) + 3 for i, s in enumerate(sites)}
    result = _run(pki, sites, updates, counts)
    expected = _fedavg(updates, counts, sites)
    assert result.sites == tuple(sites) and result.recovered == ()
    assert result.weight == pytest.approx(1.0)
    for key, value in result.mean().items():
        # Each site rounds once at 2**-24 after weighting: the error is at most n / 2**25 per coordinate.
        np.testing.assert_allclose(value, expected[key], rtol=0, atol=n / 2**25 + 1e-9)
    assert not np.allclose(result.mean()["head.w"], 0.0)


def test_masked_input_is_indistinguishable_from_uniform(pki: Pki) -> None:
    sites = ["site-1", "site-2", "site-3"]
    ctx = RoundContext("job-1", 0, 2)
    clients = _clients(pki, ctx, sites)
    server = SecAggServer(ctx)
    adverts = server.collect_adverts({s: c.advertise(100) for s, c in clients.items()})
    routed = server.route_shares({s: c.share(adverts) for s, c in clients.items()})
    # A highly structured update (a ramp): its plain encoding is far from uniform, its masked input is not.
    update = {"w": np.linspace(-1e-2, 1e-2, 120_000, dtype=np.float32)}
    masked = clients["site-1"].mask(update, routed["site-1"])["w"].reshape(-1)
    plain = FixedPoint().encode(update["w"], 1 / 3).reshape(-1)
    assert masked.dtype == np.uint32 and masked.shape == plain.shape

    chi, ks = _chi_square_high_byte(masked), _ks_uniform(masked)
    assert chi < CHI2_255_P001 and ks < KS_P001 / np.sqrt(masked.size)
    assert _chi_square_high_byte(plain) > 10 * CHI2_255_P001 and _ks_uniform(plain) > 10 * KS_P001 / np.sqrt(plain.size)


CHI2_255_P001 = 330.5
"""The chi-square statistic with 255 degrees of freedom that uniform data exceeds with probability 0.001."""
KS_P001 = 1.949
"""Kolmogorov-Smirnov: uniform data exceeds ``KS_P001 / sqrt(n)`` with probability 0.001 (large n)."""


def _chi_square_high_byte(values: Arr) -> float:
    """Pearson's statistic of the top 8 bits of 32-bit ring elements against 256 equally likely values."""
    observed = np.bincount((values >> np.uint32(24)).astype(np.int64), minlength=256).astype(np.float64)
    expected = values.size / 256
    return float(np.sum((observed - expected) ** 2 / expected))


def _ks_uniform(values: Arr) -> float:
    """The Kolmogorov-Smirnov distance of ``values / 2**32`` from the uniform distribution on [0, 1)."""
    x = np.sort(values.astype(np.float64) / 2**32)
    n = x.size
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(max(np.max(ranks / n - x), np.max(x - (ranks - 1) / n)))


def test_site_dropping_after_key_exchange_is_recovered(pki: Pki) -> None:
    sites = ["site-1", "site-2", "site-3", "site-4"]
    updates = _updates(sites, seed=7)
    counts = {"site-1": 50, "site-2": 30, "site-3": 20, "site-4": 40}
    result = _run(pki, sites, updates, counts, threshold=3, drop_after_share=["site-3"])
    assert result.sites == ("site-1", "site-2", "site-4")
    assert result.recovered == ("site-3",)
    assert result.weight == pytest.approx(120 / 140)
    expected = _fedavg(updates, counts, ["site-1", "site-2", "site-4"])
    for key, value in result.mean().items():
        np.testing.assert_allclose(value, expected[key], rtol=0, atol=4 / 2**25 / (120 / 140) + 1e-9)


def _relay(pki: Pki, sites: Sequence[str]) -> tuple[dict[str, SecAggClient], list[dict[str, Any]]]:
    ctx = RoundContext("job-1", 0, default_threshold(len(sites)))
    clients = _clients(pki, ctx, sites)
    adverts = SecAggServer(ctx).collect_adverts({s: c.advertise(10) for s, c in clients.items()})
    return clients, adverts


def test_coordinator_substituting_a_key_is_detected(pki: Pki) -> None:
    clients, adverts = _relay(pki, ["site-1", "site-2", "site-3"])
    ctx = RoundContext("job-1", 0, 2)
    mallory = SecAggClient(pki.identity("mallory-has-no-site-cert"), pki.anchor, ctx, now=lambda: NOW)
    forged = mallory.advertise(10)
    swapped = [dict(a, c_pk=forged["c_pk"]) if a["site"] == "site-2" else a for a in adverts]
    with pytest.raises(SignatureError, match="site-2's advertised keys do not carry its signature"):
        clients["site-1"].share(swapped)
    # The whole advertisement replaced, with a certificate the coordinator holds but for another name.
    renamed = [dict(forged, site="site-2") if a["site"] == "site-2" else a for a in adverts]
    with pytest.raises(SignatureError, match="names another participant"):
        clients["site-1"].share(renamed)
    # A certificate for the right name from a CA other than this kit's root.
    rogue = Pki("root")
    fake = SecAggClient(rogue.identity("site-2"), rogue.anchor, ctx, now=lambda: NOW).advertise(10)
    faked = [fake if a["site"] == "site-2" else a for a in adverts]
    with pytest.raises(SignatureError, match="not issued by this kit's root CA"):
        clients["site-1"].share(faked)
    # Changing the signed example count is a substitution too.
    counted = [dict(a, num_examples=99) if a["site"] == "site-3" else a for a in adverts]
    with pytest.raises(SignatureError, match="site-3"):
        clients["site-1"].share(counted)


def test_round_below_threshold_fails_with_reason(pki: Pki) -> None:
    sites = ["site-1", "site-2", "site-3", "site-4"]
    updates = _updates(sites)
    counts = dict.fromkeys(sites, 10)
    with pytest.raises(SecureAggregationError, match="masked input: 2 sites remain, fewer than the threshold of 3"):
        _run(pki, sites, updates, counts, threshold=3, drop_after_share=["site-2", "site-4"])
    ctx = RoundContext("job-1", 0, 3)
    clients = _clients(pki, ctx, sites[:2])
    with pytest.raises(SecureAggregationError, match="advertise: 2 sites remain"):
        SecAggServer(ctx).collect_adverts({s: c.advertise(5) for s, c in clients.items()})


def test_threshold_must_be_a_majority(pki: Pki) -> None:
    sites = ["site-1", "site-2", "site-3", "site-4"]
    with pytest.raises(SecureAggregationError, match="not a majority"):
        _run(pki, sites, _updates(sites), dict.fromkeys(sites, 10), threshold=2)


def test_a_site_answers_the_unmask_stage_once(pki: Pki) -> None:
    sites = ["site-1", "site-2", "site-3"]
    ctx = RoundContext("job-1", 0, 2)
    clients = _clients(pki, ctx, sites)
    server = SecAggServer(ctx)
    adverts = server.collect_adverts({s: c.advertise(10) for s, c in clients.items()})
    routed = server.route_shares({s: c.share(adverts) for s, c in clients.items()})
    clients["site-1"].mask(_updates(sites)["site-1"], routed["site-1"])
    first = clients["site-1"].unmask(["site-1", "site-2", "site-3"])
    assert set(first["b"]) == {"site-1", "site-2", "site-3"} and first["s"] == {}
    # Asked again with site-2 "dropped", it would hand out site-2's mask key as well: refused.
    with pytest.raises(SecureAggregationError, match="already answered"):
        clients["site-1"].unmask(["site-1", "site-3"])


def test_shamir_needs_threshold_shares() -> None:
    secret = bytes(range(32))
    shares = _shamir.split(secret, [1, 2, 3, 4, 5], 3, counter_bytes("s"))
    assert _shamir.combine({x: shares[x] for x in (2, 4, 5)}, 3, 32) == secret
    assert _shamir.combine({x: shares[x] for x in (1, 3, 5)}, 3, 32) == secret
    with pytest.raises(SecureAggregationError, match="2 shares, 3 needed"):
        _shamir.combine({x: shares[x] for x in (1, 2)}, 3, 32)


def test_fixed_point_range_is_checked() -> None:
    with pytest.raises(ConfigError, match="clip"):
        FixedPoint(bits=32, frac_bits=24, clip=200.0)
    ring = FixedPoint()
    values = np.array([-0.5, 0.25, 63.0, 1e9], dtype=np.float64)
    np.testing.assert_allclose(ring.decode(ring.encode(values, 1.0)), [-0.5, 0.25, 63.0, 64.0])
