"""``python -m bench.credit [--quick] [--model minilm] [--sites 3] [--sentences 160] [--loo-size 32] [--repeats 3]``.

What the coordinator's credit record costs each round (:class:`node.coordinator.credit.CreditKeeper`): the record
alone (norms, attendance, one SQLite write) and with the leave-one-out contribution (k + 1 forward passes of the
global model over ``--loo-size`` root-set sentences: the NCBI-disease devel set), against the round itself, timed as
``bench.fl`` times it (``run_federation``: the sites' local training, serialisation both ways and FedAvg, in one
process, without evaluation). Rounds and credit are interleaved (``--repeats`` times), medians reported. Writes
``credit.json`` and ``credit.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fl.rounds import RoundBench
from node.coordinator.credit import CreditConfig, CreditKeeper, CreditStore, RootLoss
from node.coordinator.root_set import DEFAULT_ROOT_SET
from node.ml.aggregation import ClientUpdate, make_aggregator
from node.ml.ner import TrainConfig, train_local

STEM = "credit"


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.credit", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny BERT, 40 sentences, 2 repeats")
    p.add_argument("--model", default=None, help="minilm (default; --quick: tiny)")
    p.add_argument("--sites", type=int, default=3)
    p.add_argument("--sentences", type=int, default=None, help="training sentences per round, all sites (160)")
    p.add_argument("--loo-size", type=int, default=32, help="root-set sentences the contribution is measured on")
    p.add_argument("--repeats", type=int, default=None, help="interleaved round + credit repeats (3)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    model = a.model or ("tiny" if a.quick else "minilm")
    sentences = a.sentences or (40 if a.quick else 160)
    repeats = a.repeats or (2 if a.quick else 3)
    bench = RoundBench.load(model, sentences, a.sites, a.device)
    ctx, cfg, shards, state = bench.ctx, bench.config, bench.shards, bench.state
    train = TrainConfig(epochs=1, batch_size=cfg.batch_size, lr=cfg.learning_rate, seed=cfg.seed)
    updates = [
        ClientUpdate(f"site-{i + 1}", train_local(state, s, train, model=ctx.model).update, len(s))
        for i, s in enumerate(shards)
    ]
    fedavg = make_aggregator("fedavg", min_clients=1)
    loss = RootLoss(DEFAULT_ROOT_SET, model, size=a.loo_size, seed=cfg.seed)
    loss(state)  # first-touch costs (model load, encoding) are paid once per job, not per round
    sites = [u.site for u in updates]
    tmp = Path(tempfile.mkdtemp(prefix=".credit-bench-"))
    rounds_s: list[float] = []
    record_s: list[float] = []
    loo_s: list[float] = []
    try:
        for i in range(repeats):
            rounds_s.append(bench.round_seconds())
            for with_loo, times in ((False, record_s), (True, loo_s)):
                keeper = CreditKeeper(
                    CreditConfig(loo=with_loo, loo_size=a.loo_size),
                    CreditStore(tmp / f"credit-{with_loo}.db"),
                    job_id=f"job-{i}",
                    loss_fn=loss if with_loo else None,
                )
                started = time.perf_counter()
                kept = keeper.before_aggregate(i, sites, sites, updates, min_responses=len(updates))
                spent = time.perf_counter() - started
                outcome = fedavg.aggregate(kept)  # the round's own aggregation: part of the round, not of the record
                started = time.perf_counter()
                keeper.after_aggregate(fedavg, kept, outcome, state)
                times.append(spent + time.perf_counter() - started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    round_med = statistics.median(rounds_s)
    result: dict[str, Any] = {
        "model": model,
        "device": a.device,
        "sites": a.sites,
        "sentences": bench.sentences,
        "loo_size": a.loo_size,
        "loo_evaluations": a.sites + 1,
        "repeats": repeats,
        "round_seconds": round_med,
        "rounds_seconds": rounds_s,
        "record_seconds": statistics.median(record_s),
        "record_with_loo_seconds": statistics.median(loo_s),
        "pct_of_round": {
            "record": 100.0 * statistics.median(record_s) / round_med,
            "record_with_loo": 100.0 * statistics.median(loo_s) / round_med,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{STEM}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    pct = result["pct_of_round"]
    md = [
        "# The coordinator's credit record: cost per round",
        "",
        f"`python -m bench.credit` ({result['at']}; {result['machine']}; model {model} on {a.device}, "
        f"{a.sites} sites, {bench.sentences} training sentences per round, {repeats} repeats, medians).",
        "",
        "| what | seconds | % of a round |",
        "|---|---:|---:|",
        f"| one FL round (local training, transport, FedAvg) | {round_med:.3f} | 100 |",
        f"| credit record (norms, attendance, SQLite) | {result['record_seconds']:.4f} | {pct['record']:.2f} |",
        f"| record + leave-one-out ({a.sites + 1} forward passes over {a.loo_size} sentences) | "
        f"{result['record_with_loo_seconds']:.3f} | {pct['record_with_loo']:.2f} |",
        "",
        "The leave-one-out contribution grows with the number of sites (k + 1 evaluations) and `loo_size`; "
        "`credit={'loo': False}` keeps only the record.",
        "",
    ]
    (a.out / f"{STEM}.md").write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
