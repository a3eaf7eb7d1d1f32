"""``python -m bench.secagg [--model minilm] [--sites 2,4,6] [--out bench/results]``.

Secure aggregation's added work per round for the full MiniLM update (every floating-point tensor of the model,
about 22.7 million values) at 2, 4 and 6 sites, against plain FedAvg of the same updates, and the bytes on the
wire against the plain floor (the model down and the update up, per site). Each site's stages (advertise, share,
masked input: fixed-point encoding plus one AES-CTR mask expansion per peer and one self mask; unmask) and the
coordinator's (relaying, summing the masked inputs, rebuilding and removing the masks) are timed separately; one
site dropping out after the key exchange is timed too. The round the overhead is compared with is the plain
federated MiniLM round measured on this machine by ``python -m bench.fl`` (``bench/results/fl_overhead.json``;
``--round-seconds`` overrides it). Writes ``secagg.json`` and ``secagg.md``.

Needs only numpy, torch (FedAvg and the model's shapes) and cryptography; no NVFlare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from node.coordinator.model import build_initial_state
from node.ml.aggregation import ClientUpdate, FedAvg
from node.ml.secagg import RoundContext, SecAggClient, SecAggServer, default_threshold
from node.ml.secagg._identity import SiteIdentity, TrustAnchor

STEM = "secagg"
TARGET_PCT = 15.0
T = TypeVar("T")


def _timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def _pki(sites: list[str]) -> tuple[dict[str, SiteIdentity], TrustAnchor]:
    """A throwaway root CA and one RSA-2048 kit identity per site, as NVFlare's provisioning makes them."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.now(UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def cert(cn: str, key: rsa.RSAPrivateKey) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name("root"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(root_key, hashes.SHA256())
        )

    identities = {}
    for s in sites:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        identities[s] = SiteIdentity(s, key, cert(s, key).public_bytes(serialization.Encoding.PEM))
    return identities, TrustAnchor(cert("root", root_key))


def _bytes(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":")).encode())


def measure(
    n: int, state: Mapping[str, torch.Tensor], updates: dict[str, dict[str, np.ndarray[Any, Any]]], drop: str | None
) -> dict[str, Any]:
    """One securely aggregated round of ``n`` sites (``drop``: a site that shares, then sends nothing)."""
    sites = sorted(updates)
    identities, anchor = _pki(sites)
    ctx = RoundContext("bench", 0, default_threshold(n))
    clients = {s: SecAggClient(identities[s], anchor, ctx) for s in sites}
    server = SecAggServer(ctx)
    site_s: dict[str, float] = dict.fromkeys(sites, 0.0)
    coord_s = 0.0
    wire = {"down": 0, "up": 0}

    adverts: dict[str, Any] = {}
    for s in sites:
        adverts[s], dt = _timed(clients[s].advertise, 100 + sites.index(s))
        site_s[s] += dt
        wire["up"] += _bytes(adverts[s])
    relayed, dt = _timed(server.collect_adverts, adverts)
    coord_s += dt
    wire["down"] += n * _bytes(relayed)
    shares: dict[str, Any] = {}
    for s in sites:
        shares[s], dt = _timed(clients[s].share, relayed)
        site_s[s] += dt
        wire["up"] += _bytes(shares[s])
    routed, dt = _timed(server.route_shares, shares)
    coord_s += dt
    wire["down"] += n * _bytes(routed)  # the train task carries every site's routed shares (encrypted)
    mask_s: dict[str, float] = {}
    for s in sites:
        if s == drop:
            continue
        masked, dt = _timed(clients[s].mask, updates[s], routed[s])
        site_s[s] += dt
        mask_s[s] = dt
        wire["up"] += sum(int(v.nbytes) for v in masked.values())
        _, dt = _timed(server.add_masked, s, masked)
        coord_s += dt
        del masked
    survivors, dt = _timed(server.unmask_request)
    coord_s += dt
    answers: dict[str, Any] = {}
    for s in survivors:
        answers[s], dt = _timed(clients[s].unmask, survivors)
        site_s[s] += dt
        wire["up"] += _bytes(answers[s])
    wire["down"] += len(survivors) * _bytes({"survivors": survivors})
    result, finish_s = _timed(server.finish, answers)
    coord_s += finish_s
    alive = [s for s in sites if s != drop]
    plain, plain_s = _timed(
        lambda: FedAvg().aggregate(
            [
                ClientUpdate(s, {k: torch.from_numpy(v) for k, v in updates[s].items()}, 100 + sites.index(s))
                for s in alive
            ]
        )
    )
    mean = result.mean()
    error = max(float(np.max(np.abs(mean[k] - plain.update[k].double().numpy()))) for k in mean)
    return {
        "sites": n,
        "threshold": ctx.threshold,
        "dropped": drop,
        "recovered": list(result.recovered),
        "site_seconds_max": max(site_s.values()),
        "site_seconds_total": sum(site_s.values()),
        "mask_seconds_per_site": {s: round(v, 3) for s, v in mask_s.items()},
        "coordinator_seconds": coord_s,
        "unmask_seconds": finish_s,
        "fedavg_seconds": plain_s,
        "max_abs_error_vs_fedavg": error,
        "protocol_bytes": wire,
    }


def _round_seconds(path: Path) -> dict[int, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["overhead_per_round"]
        return {int(v["sites"]): float(v["federated_round_seconds"]) for v in data.values()}
    except (OSError, KeyError, ValueError, TypeError):
        return {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.secagg", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="minilm", help="minilm (default) or tiny (a quick check)")
    p.add_argument("--sites", default="2,4,6")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--round-seconds", type=float, default=None, help="the plain round to compare with")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    state = build_initial_state(args.model, seed=0)
    floats = {k: v for k, v in state.items() if torch.is_floating_point(v)}
    params = sum(v.numel() for v in floats.values())
    model_bytes = sum(v.numel() * v.element_size() for v in state.values())
    rounds = _round_seconds(args.out / "fl_overhead.json")
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for n in [int(x) for x in args.sites.split(",")]:
        sites = [f"site-{i}" for i in range(1, n + 1)]
        updates = {
            s: {k: (rng.standard_normal(tuple(v.shape), dtype=np.float32) * 1e-3) for k, v in floats.items()}
            for s in sites
        }
        load = os.getloadavg()[0]
        full = measure(n, floats, updates, None)
        dropped = measure(n, floats, updates, sites[-1]) if default_threshold(n) < n else None
        round_s = args.round_seconds or rounds.get(n)
        added = full["site_seconds_max"] + full["coordinator_seconds"] - full["fedavg_seconds"]
        floor = 2 * model_bytes * n
        wire = full["protocol_bytes"]
        row = {
            **full,
            "load_average": load,
            "plain_round_seconds": round_s,
            "added_seconds_parallel_sites": added,
            "overhead_pct": 100 * added / round_s if round_s else None,
            "dropout": dropped,
            "bytes_plain_floor": floor,
            "bytes_secagg": n * model_bytes + wire["down"] + wire["up"],
        }
        rows.append(row)
        print(
            json.dumps({k: row[k] for k in ("sites", "site_seconds_max", "coordinator_seconds", "overhead_pct")}),
            flush=True,
        )
        del updates
    report = {
        "benchmark": STEM,
        "model": args.model,
        "params": params,
        "model_bytes": model_bytes,
        "ring": {"bits": 32, "frac_bits": 24, "clip": 64.0},
        "target_pct": TARGET_PCT,
        "hardware": {"platform": platform.platform(), "python": sys.version.split()[0], "cpu_count": os.cpu_count()},
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{STEM}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / f"{STEM}.md").write_text(markdown(report), encoding="utf-8")
    return 0


def markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"## Secure aggregation per round, model `{report['model']}` ({report['params']:,} values) on CPU "
        f"({report['hardware']['cpu_count']} cores)",
        "",
        "| Sites | Threshold | Site work (s, slowest site) | Coordinator (s) | FedAvg plain (s) "
        "| Added per round (s) | Plain round (s) | Overhead | 1 dropout: unmask (s) | Max error vs FedAvg "
        "| Bytes plain floor | Bytes SecAgg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        pct = f"{r['overhead_pct']:+.1f} %" if r["overhead_pct"] is not None else "-"
        drop = f"{r['dropout']['unmask_seconds']:.2f}" if r["dropout"] else "- (threshold = sites)"
        round_s = f"{r['plain_round_seconds']:.2f}" if r["plain_round_seconds"] else "-"
        lines.append(
            f"| {r['sites']} | {r['threshold']} | {r['site_seconds_max']:.2f} | {r['coordinator_seconds']:.2f} "
            f"| {r['fedavg_seconds']:.2f} | {r['added_seconds_parallel_sites']:.2f} | {round_s} | {pct} | {drop} "
            f"| {r['max_abs_error_vs_fedavg']:.1e} | {r['bytes_plain_floor']:,} | {r['bytes_secagg']:,} |"
        )
    loads = ", ".join(f"{r['load_average']:.1f}" for r in report["rows"])
    lines += [
        "",
        f"Target: at most {report['target_pct']:.0f} % of a plain round. Sites work in parallel in a federation, "
        "so the added time is the slowest site's secure-aggregation work (key agreement, Shamir shares, fixed-point "
        "encoding, one AES-256-CTR mask expansion per peer plus its self mask) plus the coordinator's (summing the "
        "masked inputs, rebuilding and removing the masks), less the FedAvg it replaces. The plain round is the "
        "federated MiniLM round of `bench/results/fl_overhead.json` on this machine (320 sentences per round: short "
        f"rounds, so the percentage is conservative). Ring Z/2^32, scale 2^24, clip ±64. Load average while "
        f"measuring: {loads} (the machine is shared; crypto timings scale with it).",
        "",
        "Bytes: the plain floor is the model down and the update up per site; secure aggregation sends the masked "
        "update as 32-bit ring elements (the same size as float32) plus the advertisements, the encrypted shares "
        "(relayed with the train task) and the unmask shares.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
