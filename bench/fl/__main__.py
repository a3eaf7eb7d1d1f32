"""``python -m bench.fl [--quick] [--device cuda] [--out bench/results]``.

Runs the clients experiment (2, 4, 6 sites, even shares) and the imbalance experiment (50/50, 75/25, 90/10)
against one central baseline trained on the same data with the same budget of epochs, then measures the
federation overhead per round against a central epoch on the same data. Writes ``fl_experiments.json``,
``fl_experiments.md`` and ``fl_experiments_f1.png`` (plus ``fl_experiments.runs.json``, a checkpoint that
``--resume`` continues from when a long run was cut off).

Needs only torch, transformers, numpy, matplotlib, tqdm and seqeval (no NVFlare, pydantic or SQLAlchemy).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from node.ml.experiments import (
    CENTRAL,
    ExperimentConfig,
    ExperimentContext,
    ExperimentReport,
    RunResult,
    clients_configurations,
    hardware_info,
    imbalance_configurations,
    markdown_table,
    measure_overhead,
    parse_shares,
    parse_sites,
    plot_f1,
    run_federation,
    write_json,
)
from node.ml.experiments.runner import _data_facts, run_configuration, run_overhead_from_runs

STEM = "fl_experiments"


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.fl", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny BERT, 600 training sentences, 5 rounds")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--model", default=None, help="minilm (default; --quick: tiny) or a local HF checkpoint folder")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--sites", default="2,4,6")
    p.add_argument("--shares", default="50/50,75/25,90/10")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    p.add_argument(
        "--protocol",
        default="standard",
        choices=("standard", "flare-example"),
        help="evaluation protocol; flare-example writes fl_experiments_flare.*",
    )
    p.add_argument("--subword-labels", default="first", choices=("first", "all"), help="flare-example only")
    p.add_argument("--resume", action="store_true", help="skip runs already in the checkpoint file")
    p.add_argument("--no-overhead", action="store_true", help="skip the overhead measurement")
    p.add_argument("--overhead-only", action="store_true", help="only measure the overhead (fl_overhead.json/.md)")
    p.add_argument("--overhead-sites", default="2,6", help="site counts for the overhead measurement")
    p.add_argument("--overhead-sentences", type=int, default=320, help="training sentences timed per repeat")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--experiments", default="clients,imbalance", help="which of clients,imbalance to run")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run configurations in N processes at once (a GPU is rarely saturated by one); >1 makes the "
        "per-round times of the experiment runs unsuitable as timings (the overhead measurement runs alone)",
    )
    return p.parse_args(argv)


def _config(a: argparse.Namespace) -> ExperimentConfig:
    """Full size by default; ``--quick`` shrinks what the user did not set explicitly."""
    q = a.quick
    return ExperimentConfig(
        rounds=a.rounds if a.rounds is not None else (5 if q else 20),
        model=a.model or ("tiny" if q else "minilm"),
        train_limit=a.train_limit if a.train_limit is not None else (600 if q else None),
        test_limit=a.test_limit,
        device=a.device,
        lr=a.lr,
        batch_size=a.batch_size,
        bf16=a.bf16,
        progress=not a.no_progress,
        protocol=a.protocol,
        subword_labels=a.subword_labels,
    )


def _overhead_markdown(overhead: dict[str, Any]) -> list[str]:
    if not overhead:
        return []
    md = [
        "### Federation overhead per round (in-process) vs a central epoch on the same data",
        "",
        "| Sites | Sentences | Central epoch (s) | Federated round (s) | Overhead | of which transport (s) "
        "| of which FedAvg (s) | Bytes per round | Floor 2 x model x sites |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in overhead.values():
        md.append(
            f"| {o['sites']} | {o['sentences']} | {o['central_epoch_seconds']:.2f} | "
            f"{o['federated_round_seconds']:.2f} | {o['overhead_pct']:+.1f} % | {o['transport_seconds']:.3f} | "
            f"{o['aggregate_seconds']:.3f} | {o['bytes_per_round']:,} | {o['bytes_floor']:,} |"
        )
    md += [
        "",
        "Target: at most 10 % overhead (medians of 3 interleaved repeats; round = train + serialisation both "
        "ways + FedAvg, without evaluation). The sites train one after another, so the round's training time is "
        "the central epoch's plus each site's setup; how the shards' sentences fall into padded batches moves "
        "both by a few per cent either way.",
        "",
    ]
    return md


def _measure_overheads(a: argparse.Namespace, cfg: ExperimentConfig, ctx: ExperimentContext) -> dict[str, Any]:
    """The overhead per round for each of ``--overhead-sites``, measured alone (no progress bars)."""
    quiet = replace(ctx, config=replace(cfg, progress=False))
    sentences = min(len(ctx.train), a.overhead_sentences)
    return {
        f"{n}_sites": measure_overhead(quiet, sites=n, sentences=sentences, repeats=3)
        for n in parse_sites(a.overhead_sites)
    }


def _overhead_only(a: argparse.Namespace, cfg: ExperimentConfig, ctx: ExperimentContext) -> int:
    overhead = _measure_overheads(a, cfg, ctx)
    payload = {
        "benchmark": "fl_overhead",
        "config": cfg.as_dict(),
        "hardware": hardware_info(cfg.device),
        "overhead_per_round": overhead,
        "overhead_target_pct": 10.0,
    }
    write_json(payload, a.out / "fl_overhead.json")
    text = overhead_report(payload)
    (a.out / "fl_overhead.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


def overhead_report(payload: dict[str, Any]) -> str:
    """The Markdown of an ``fl_overhead.json`` payload."""
    cfg, hw = payload["config"], payload["hardware"]
    where = hw.get("gpu") or f"{hw.get('cpu_count')} CPU cores"
    md = [
        f"## Federation overhead per round, model `{cfg['model']}` on {cfg['device']} ({where}, torch {hw['torch']})",
        "",
        *_overhead_markdown(payload["overhead_per_round"]),
    ]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    a = _args(argv)
    cfg = _config(a)
    stem = STEM if cfg.protocol == "standard" else f"{STEM}_flare" + ("" if cfg.subword_labels == "first" else "_all")
    a.out.mkdir(parents=True, exist_ok=True)
    checkpoint = a.out / f"{stem}.runs.json"
    done: dict[str, Any] = {}
    if a.resume and checkpoint.is_file():
        saved = json.loads(checkpoint.read_text(encoding="utf-8"))
        if saved.get("config") == cfg.as_dict():
            done = saved["runs"]
        else:
            print("bench.fl: checkpoint is for another configuration; starting over", file=sys.stderr)

    started = time.perf_counter()
    ctx = ExperimentContext.load(cfg)
    if a.overhead_only:
        return _overhead_only(a, cfg, ctx)
    chosen = [e.strip() for e in a.experiments.split(",") if e.strip()]
    experiments = {
        "clients": clients_configurations(parse_sites(a.sites)),
        "imbalance": imbalance_configurations(parse_shares(a.shares)),
    }
    experiments = {k: v for k, v in experiments.items() if k in chosen}
    results: dict[str, RunResult] = {}

    def save(key: str, run_dict: dict[str, Any]) -> None:
        done[key] = run_dict
        write_json({"config": cfg.as_dict(), "runs": done}, checkpoint)

    todo: list[tuple[str, str, list[float] | None]] = [("central", CENTRAL, None)]
    todo += [(f"{kind}:{name}", name, list(shares)) for kind, confs in experiments.items() for name, shares in confs]
    todo = [t for t in todo if t[0] not in done]
    if a.workers > 1 and todo:
        worker_cfg = replace(cfg, progress=False)
        with ProcessPoolExecutor(a.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_configuration, worker_cfg, name, shares): key for key, name, shares in todo}
            for future, key in futures.items():
                save(key, future.result())
                print(f"bench.fl: {key} finished", file=sys.stderr)

    def run(key: str, name: str, shares: list[float] | None) -> RunResult:
        if key in done:
            results[key] = RunResult.from_dict(done[key])
            return results[key]
        if shares is None:
            results[key] = ctx.run_central()
        else:
            shards = ctx.encode_shards(shares)
            results[key] = run_federation(name, shards, ctx.test, cfg, model=ctx.model, initial_state=ctx.initial_state)
        save(key, results[key].as_dict())
        return results[key]

    central = run("central", CENTRAL, None)
    reports = []
    for kind, configurations in experiments.items():
        runs = [run(f"{kind}:{name}", name, shares) for name, shares in configurations]
        reports.append(
            ExperimentReport(
                kind=kind,
                config=cfg,
                runs=runs,
                central=central,
                data=_data_facts(ctx),
                hardware=hardware_info(cfg.device),
                seconds=sum(r.round_seconds + r.eval_seconds for run in runs for r in run.rounds),
                overhead=run_overhead_from_runs(runs, central),
            )
        )

    overhead = {} if a.no_overhead else _measure_overheads(a, cfg, ctx)

    payload = {
        "benchmark": "fl",
        "quick": a.quick,
        "config": cfg.as_dict(),
        "hardware": hardware_info(cfg.device),
        "seconds": time.perf_counter() - started,
        "experiments": {r.kind: r.as_dict() for r in reports},
        "central": central.as_dict(),
        "overhead_per_round": overhead,
        "overhead_target_pct": 10.0,
        "workers": a.workers,
    }
    write_json(payload, a.out / f"{stem}.json")
    md = [f"## Federated vs central NER ({'quick' if a.quick else 'full'} run, protocol `{cfg.protocol}`)", ""]
    md += [markdown_table(r) for r in reports]
    if not reports:  # the central baseline alone
        f = central.final
        md += [
            "| Metric | Central |",
            "|---|---:|",
            *(f"| {label} | {f[key]:.3f} |" for label, key in (("Precision", "precision"), ("Recall", "recall"))),
            *(f"| {label} | {f[key]:.3f} |" for label, key in (("F1", "f1"), ("Token accuracy", "accuracy"))),
            "",
            f"Model `{cfg.model}`, {len(ctx.train)} training sentences, {cfg.rounds} epoch(s), protocol "
            f"`{cfg.protocol}`, test set of {len(ctx.test)} sentences; {hardware_info(cfg.device).get('cpu_count')} "
            "CPU cores.",
            "",
        ]
    md += _overhead_markdown(overhead)
    (a.out / f"{stem}.md").write_text("\n".join(md), encoding="utf-8")
    if reports:  # `--experiments none`: the central baseline alone, nothing to plot
        plot_f1(reports, a.out / f"{stem}_f1.png")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
