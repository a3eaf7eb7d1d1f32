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


class Clock:
    """Wall and CPU seconds of everything timed with it (CPU time is what a busy shared machine distorts least)."""

    def __init__(self) -> None:
        self.cpu = 0.0

    def __call__(self, fn: Callable[..., T], *args: Any) -> tuple[T, float]:
        started, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.cpu += time.process_time() - cpu
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
    site_clock, coord_clock = Clock(), Clock()
    wire = {"down": 0, "up": 0}

    adverts: dict[str, Any] = {}
    for s in sites:
        adverts[s], dt = site_clock(clients[s].advertise, 100 + sites.index(s))
        site_s[s] += dt
        wire["up"] += _bytes(adverts[s])
    relayed, dt = coord_clock(server.collect_adverts, adverts)
    coord_s += dt
    wire["down"] += n * _bytes(relayed)
    shares: dict[str, Any] = {}
    for s in sites:
        shares[s], dt = site_clock(clients[s].share, relayed)
        site_s[s] += dt
        wire["up"] += _bytes(shares[s])
    routed, dt = coord_clock(server.route_shares, shares)
    coord_s += dt
    wire["down"] += n * _bytes(routed)  # the train task carries every site's routed shares (encrypted)
    mask_s: dict[str, float] = {}
    for s in sites:
        if s == drop:
            continue
        masked, dt = site_clock(clients[s].mask, updates[s], routed[s])
        site_s[s] += dt
        mask_s[s] = dt
        wire["up"] += sum(int(v.nbytes) for v in masked.values())
        _, dt = coord_clock(server.add_masked, s, masked)
        coord_s += dt
        del masked
    survivors, dt = coord_clock(server.unmask_request)
    coord_s += dt
    answers: dict[str, Any] = {}
    for s in survivors:
        answers[s], dt = site_clock(clients[s].unmask, survivors)
        site_s[s] += dt
        wire["up"] += _bytes(answers[s])
    wire["down"] += len(survivors) * _bytes({"survivors": survivors})
    result, finish_s = coord_clock(server.finish, answers)
    coord_s += finish_s
    alive = [s for s in sites if s != drop]
    plain, plain_s = Clock()(
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
        "site_cpu_seconds_total": site_clock.cpu,
        "coordinator_cpu_seconds": coord_clock.cpu,
        "mask_seconds_per_site": {s: round(v, 3) for s, v in mask_s.items()},
        "coordinator_seconds": coord_s,
        "unmask_seconds": finish_s,
        "fedavg_seconds": plain_s,
        "max_abs_error_vs_fedavg": error,
        "protocol_bytes": wire,
    }


def _plain_round(experiment: Any, n: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one plain federated round of ``n`` sites over the experiment's sentences: each site
    trains in turn, the updates are serialised both ways and averaged (``node.ml.experiments.run_federation``)."""
    from dataclasses import replace

    from node.ml.experiments import run_federation
    from node.ml.ner import encode, shard

    cfg = replace(experiment.config, rounds=1, progress=False)
    tokenizer = experiment.model.tokenizer
    shards = [encode(part, tokenizer) for part in shard(list(experiment.train), [1.0] * n, seed=cfg.seed)]
    empty = encode(list(experiment.train)[:1], tokenizer)
    cpu = time.process_time()
    run = run_federation("fl", shards, empty, cfg, model=experiment.model, initial_state=experiment.initial_state)
    return float(run.rounds[0].round_seconds), time.process_time() - cpu


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
    p.add_argument(
        "--round-sentences",
        type=int,
        default=320,
        help="time a plain federated round over this many NCBI-disease sentences right before each measurement "
        "(0: take the round from fl_overhead.json)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    state = build_initial_state(args.model, seed=0)
    floats = {k: v for k, v in state.items() if torch.is_floating_point(v)}
    params = sum(v.numel() for v in floats.values())
    model_bytes = sum(v.numel() * v.element_size() for v in state.values())
    recorded = _round_seconds(args.out / "fl_overhead.json") if args.model == "minilm" else {}
    experiment = None
    if args.round_sentences and args.round_seconds is None:
        from node.ml.experiments import ExperimentConfig, ExperimentContext

        config = ExperimentConfig(model=args.model, rounds=1, train_limit=args.round_sentences, progress=False)
        experiment = ExperimentContext.load(config)
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for n in [int(x) for x in args.sites.split(",")]:
        sites = [f"site-{i}" for i in range(1, n + 1)]
        updates = {
            s: {k: (rng.standard_normal(tuple(v.shape), dtype=np.float32) * 1e-3) for k, v in floats.items()}
            for s in sites
        }
        load = os.getloadavg()[0]
        plain_wall, plain_cpu = (args.round_seconds, None) if experiment is None else _plain_round(experiment, n)
        full = measure(n, floats, updates, None)
        dropped = measure(n, floats, updates, sites[-1]) if default_threshold(n) < n else None
        # The plain round trains the sites one after another (as bench.fl times it), so the sites' secure-aggregation
        # work is added up too; the FedAvg the coordinator's sum replaces is not subtracted (conservative).
        added_wall = full["site_seconds_total"] + full["coordinator_seconds"]
        added_cpu = full["site_cpu_seconds_total"] + full["coordinator_cpu_seconds"]
        idle = recorded.get(n)
        floor = 2 * model_bytes * n
        wire = full["protocol_bytes"]
        secagg_bytes = n * model_bytes + wire["down"] + wire["up"]
        row = {
            **full,
            "load_average": load,
            "plain_round_seconds": plain_wall,
            "plain_round_cpu_seconds": plain_cpu,
            "plain_round_idle_seconds": idle,
            "added_seconds": added_wall,
            "added_cpu_seconds": added_cpu,
            "overhead_pct": 100 * added_wall / plain_wall if plain_wall else None,
            "overhead_cpu_pct": 100 * added_cpu / plain_cpu if plain_cpu else None,
            "overhead_vs_idle_round_pct": 100 * added_cpu / idle if idle else None,
            "dropout": dropped,
            "bytes_plain_floor": floor,
            "bytes_secagg": secagg_bytes,
            "bytes_overhead_pct": 100 * (secagg_bytes - floor) / floor,
        }
        rows.append(row)
        print(
            json.dumps(
                {k: row[k] for k in ("sites", "added_seconds", "added_cpu_seconds", "overhead_pct", "overhead_cpu_pct")}
            ),
            flush=True,
        )
        del updates
    report = {
        "benchmark": STEM,
        "model": args.model,
        "params": params,
        "model_bytes": model_bytes,
        "ring": {"bits": 32, "frac_bits": 24, "clip": 64.0},
        "round_sentences": args.round_sentences,
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
        "| Sites | Threshold | SecAgg work, all sites (s / CPU s) | Coordinator (s / CPU s) | Plain round here "
        "(s / CPU s) | Overhead, same load | Overhead, CPU | vs idle round | 1 dropout: unmask (s) | Max error vs "
        "FedAvg | Bytes plain floor | Bytes SecAgg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pct(value: float | None) -> str:
        return f"{value:+.1f} %" if value is not None else "-"

    def pair(wall: float | None, cpu: float | None) -> str:
        return "-" if wall is None else f"{wall:.2f} / {cpu:.2f}" if cpu is not None else f"{wall:.2f}"

    for r in report["rows"]:
        drop = f"{r['dropout']['unmask_seconds']:.2f}" if r["dropout"] else "- (threshold = sites)"
        lines.append(
            f"| {r['sites']} | {r['threshold']} | {pair(r['site_seconds_total'], r['site_cpu_seconds_total'])} "
            f"| {pair(r['coordinator_seconds'], r['coordinator_cpu_seconds'])} "
            f"| {pair(r['plain_round_seconds'], r['plain_round_cpu_seconds'])} | {pct(r['overhead_pct'])} "
            f"| {pct(r['overhead_cpu_pct'])} | {pct(r['overhead_vs_idle_round_pct'])} | {drop} "
            f"| {r['max_abs_error_vs_fedavg']:.1e} | {r['bytes_plain_floor']:,} | {r['bytes_secagg']:,} "
            f"({r['bytes_overhead_pct']:+.3f} %) |"
        )
    loads = ", ".join(f"{r['load_average']:.1f}" for r in report["rows"])
    lines += [
        "",
        f"Target: at most {report['target_pct']:.0f} % of a plain round. The plain round is a federated MiniLM round "
        "(train at each site one after another + serialisation + FedAvg, as `python -m bench.fl` times it) over "
        f"{report['round_sentences']} NCBI-disease sentences, timed in this process right before the "
        "secure-aggregation round; short rounds, so every percentage is conservative. Added: every site's "
        "secure-aggregation work (key agreement, Shamir "
        "shares, fixed-point encoding, one AES-256-CTR mask expansion per peer plus its self mask, unmask shares) "
        "plus the coordinator's (summing the masked inputs, rebuilding and removing the masks); the FedAvg it "
        "replaces is not subtracted, and in a deployment the sites work in parallel. Three views, because the "
        "machine is shared by several jobs: wall time at the same load; CPU seconds (what contention distorts "
        "least); and the CPU seconds of secure aggregation against the plain round measured on the idle machine "
        "(`bench/results/fl_overhead.json`). Ring Z/2^32, scale 2^24, clip ±64. Load average while measuring: "
        f"{loads}.",
        "",
        "Bytes: the plain floor is the model down and the update up per site; secure aggregation sends the masked "
        "update as 32-bit ring elements (the same size as float32) plus the advertisements, the encrypted shares "
        "(relayed with the train task) and the unmask shares.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
