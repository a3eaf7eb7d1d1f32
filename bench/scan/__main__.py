"""``python -m bench.scan [--quick] [--files 50] [--out bench/results]``.

Times the allow-list scan on a bring-your-own-code app of N Python files (default 50) made of the hand-written
benign corpus (tests/policies/byoc/benign/: Client API loops, FedProx, SCAFFOLD, Opacus, transformers NER, a
package with helper modules), each file copied under its own package so the app really has N modules:

- ``scan``: the scan in this process (parse, bind, solve, judge every file; the BYOC config rules);
- ``worker``: the same scan as the gate runs it, in a fresh limited worker process (start-up included, no cache);
- ``verdict``: every policy rule with the bounded scan, uncached.

The ``harmful`` app appends one harmful line (:data:`HARMFUL_SNIPPETS`) to each file. Target: a
50-file job is scanned in under 1 s. Writes ``scan.json`` and ``scan.md``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from policies.codescan import DENY, scan_files
from policies.codescan.worker import clear_cache, scan_files_bounded
from policies.contracts import JobKind, JobManifest, ManifestFile
from policies.manifest import files_digest
from policies.policy_model import parse_policy
from policies.verdicts import SiteState, evaluate

STEM = "scan"
ROOT = Path(__file__).resolve().parents[2]
BENIGN = ROOT / "tests" / "policies" / "byoc" / "benign"
EXAMPLE = ROOT / "policies" / "examples" / "site-policy.yaml"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def corpus_files() -> dict[str, str]:
    """The benign corpus's Python files: the nerlib package as it is, every other file under a unique name."""
    out: dict[str, str] = {}
    for p in sorted(BENIGN.glob("*/app/custom/**/*.py")):
        custom = next(q for q in p.parents if q.name == "custom")
        rel = p.relative_to(custom).as_posix()
        job = custom.parent.parent.name
        out[f"custom/{rel}" if rel.startswith("nerlib/") else f"custom/{job}_{rel}"] = p.read_text(encoding="utf-8")
    return out


HARMFUL_SNIPPETS = (
    'AutoModelForTokenClassification.from_pretrained("dmis-lab/biobert-v1.1")\n',
    'import socket\nsocket.create_connection(("203.0.113.7", 443))\n',
    'open("/var/lib/fednode/state.db", "rb").read()\n',
    'import subprocess\nsubprocess.run(["sh", "-c", "id"])\n',
    "import posix\nposix.system('id')\n",
    "abs.__self__.__dict__['exec']('1')\n",
    'getattr(__builtins__, "ev" + "al")("1")\n',
    "import ctypes\nctypes.CDLL(None)\n",
)
"""One line of each kind the scan denies (network, files outside the workspace, commands, builtins and frames,
native code), appended to every file of the ``harmful`` app; the full corpus with every variant is the test suite's
(tests/policies/byoc/harmful.py), which bench/ does not import."""


def build_app(n_files: int, harmful: bool) -> dict[str, str | None]:
    """An app of ``n_files`` Python files (the corpus, then copies of its scripts) plus its client config."""
    snippets = list(HARMFUL_SNIPPETS)
    corpus = corpus_files()
    scripts = [t for p, t in corpus.items() if "/nerlib/" not in p]
    files: dict[str, str | None] = dict(corpus)
    i = 0
    while len(files) < n_files:
        files[f"custom/copy{i}.py"] = scripts[i % len(scripts)]
        i += 1
    if harmful:
        for j, path in enumerate(sorted(files)):
            files[path] = str(files[path]) + "\n\n" + snippets[j % len(snippets)]
    files["config/config_fed_client.json"] = (
        BENIGN / "fedavg_inprocess" / "app" / "config" / "config_fed_client.json"
    ).read_text()
    files["custom/train.py"] = corpus["custom/fedavg_inprocess_train.py"]
    return files


def manifest_of(files: dict[str, str | None]) -> JobManifest:
    entries = tuple(
        ManifestFile(p, hashlib.sha256((t or "").encode()).hexdigest(), len((t or "").encode()), t)
        for p, t in sorted(files.items())
    )
    return JobManifest(
        job_id="bench",
        study="bench",
        app_name="app",
        digest=files_digest(entries),
        files=entries,
        kind=JobKind.BYOC,
        submitter="lead@karolinska.example / Karolinska Institutet",
        submitted_at=NOW,
        rounds=5,
        min_clients=3,
    )


def state() -> SiteState:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["jobs"]["kinds"] = ["config_only", "byoc"]
    data["privacy"]["dp"]["required"] = False
    policy = parse_policy(data)
    return SiteState(policy, NOW, dict(policy.privacy.budgets), 10_000)


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (contention on a shared host does not add to it)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], Any], reps: int) -> tuple[list[float], list[float], Any]:
    """Wall-clock and CPU milliseconds per run (cache cleared before each), and the last result."""
    out = None
    wall, cpu = [], []
    for _ in range(reps):
        clear_cache()
        t0, c0 = time.perf_counter(), _cpu_s()
        out = fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((_cpu_s() - c0) * 1000)
    return wall, cpu, out


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scan")
    parser.add_argument("--quick", action="store_true", help="few repetitions (CI smoke)")
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    reps = 3 if args.quick else 20
    site = state()
    results: dict[str, Any] = {}
    for name, harmful in (("benign", False), ("harmful", True)):
        files = build_app(args.files, harmful)
        manifest = manifest_of(files)
        scan_ms, scan_cpu, findings = timed(functools.partial(scan_files, files, byoc=True), reps)
        worker_ms, worker_cpu, bounded = timed(functools.partial(scan_files_bounded, files, byoc=True), reps)
        verdict_ms, verdict_cpu, verdict = timed(functools.partial(evaluate, manifest, site), reps)
        assert bounded == findings, "the worker must answer what the scan answers"
        denies = sum(1 for f in findings if f.severity == DENY)
        results[name] = {
            "python_files": sum(1 for p in files if p.endswith(".py")),
            "lines": sum((t or "").count("\n") for t in files.values()),
            "deny_findings": denies,
            "warn_findings": len(findings) - denies,
            "allowed": verdict.allowed,
            "scan": summary(scan_ms),
            "worker": summary(worker_ms),
            "verdict": summary(verdict_ms),
            "cpu": {"scan": summary(scan_cpu), "worker": summary(worker_cpu), "verdict": summary(verdict_cpu)},
        }
    assert results["benign"]["allowed"] and results["benign"]["deny_findings"] == 0
    assert not results["harmful"]["allowed"] and results["harmful"]["deny_findings"] >= args.files
    report = {
        "benchmark": STEM,
        "quick": args.quick,
        "files": args.files,
        "target_ms": 1000,
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{STEM}.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        "| app | .py files | lines | deny / warn findings | scan (in process) | scan in worker (start-up incl.) "
        "| verdict (all rules, bounded scan) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        cells = [
            f"{r[k]['median_ms']:.0f} ms (CPU {r['cpu'][k]['median_ms']:.0f} ms)" for k in ("scan", "worker", "verdict")
        ]
        rows.append(
            f"| {name} | {r['python_files']} | {r['lines']} | {r['deny_findings']} / {r['warn_findings']} | "
            + " | ".join(cells)
            + " |"
        )
    md = (
        f"# Code scan time, BYOC app of {args.files} Python files\n\n"
        f"`python -m bench.scan{' --quick' if args.quick else ''}` on {report['host']['machine']}, "
        f"{report['host']['cpus']} CPUs (load average {report['host']['load_average_1m']} while it ran), "
        f"Python {report['host']['python']}; medians over {reps} runs, no cache; wall clock, and in brackets the "
        "CPU time of this process and its workers (what a shared, loaded host does not inflate). "
        "Target: under 1 s per 50-file job.\n\n"
        + "\n".join(rows)
        + "\n\n`harmful` appends one harmful line of a kind the scan denies to each file; every one "
        "is found. The worker column is what the gate pays once per job (results are cached by content, so "
        "the scheduler's retries cost nothing).\n"
    )
    (args.out / f"{STEM}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
