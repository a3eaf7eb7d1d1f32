"""``python -m bench.sandbox [--quick] [--out bench/results]``: the cost of confining job code.

Measures, confined (``python -m node.site.sandbox`` with Landlock, seccomp, rlimits and the audit hook) against
the same command unconfined (same interpreter, same minimal environment, same working directory):

- start-up per job: wall time to run ``python -c pass`` and ``python -c "import torch"`` to exit;
- per-round overhead: a round of a small PyTorch training job (an LSTM tagger, forward/backward/step over
  batches, then ``torch.save`` of the weights in the working directory), timed inside the child, and a pure
  Python CPU-bound loop. Runs alternate confined/unconfined so the shared machine's noise hits both alike.

Target (issue 12): confinement costs under 2 % of a round. Writes ``sandbox.json`` and ``sandbox.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from node.site.sandbox import SandboxSpec, probe, sandbox_command

STEM = "sandbox"
REPO = Path(__file__).resolve().parents[2]

ROUND = """
import json, time
import torch
from torch import nn
torch.manual_seed(0)
torch.set_num_threads({threads})

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5000, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True, bidirectional=True)
        self.head = nn.Linear(128, 5)
    def forward(self, ids):
        out, _ = self.lstm(self.embed(ids))
        return self.head(out)

model = Tagger()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
ids = torch.randint(0, 5000, (16, 48))
labels = torch.randint(0, 5, (16, 48))
times, cpu = [], []
for r in range({rounds}):
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range({steps}):
        opt.zero_grad()
        loss = loss_fn(model(ids).reshape(-1, 5), labels.reshape(-1))
        loss.backward()
        opt.step()
    torch.save(model.state_dict(), "model.pt")
    with open("metrics.json", "w") as fh:
        json.dump({{"loss": float(loss)}}, fh)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps([times, cpu]))
"""

CPU = """
import json, time
times, cpu = [], []
for r in range({rounds}):
    t0, c0 = time.perf_counter(), time.process_time()
    acc = 0
    for i in range({n}):
        acc = (acc * 31 + i) % 1000003
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps([times, cpu]))
"""


def summary(samples: list[float]) -> dict[str, float]:
    """Median and p95 in milliseconds."""
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000,
        "n": len(ordered),
    }


class Runner:
    """Runs one command confined or not, in the same job folder with the same environment."""

    def __init__(self, root: Path) -> None:
        self.workdir = root / "job"
        self.workdir.mkdir()
        self.spec = SandboxSpec.for_job(self.workdir, report_path=root / "denials.jsonl", memory_bytes=8 << 30)
        self.spec_path = self.spec.write(root / "spec.json")
        self.env = {**self.spec.env, "TMPDIR": str(self.workdir)}
        self.launcher_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}

    def run(self, code: str, *, confined: bool) -> tuple[float, str]:
        """(wall seconds to exit, stdout)."""
        argv = [sys.executable, "-c", code]
        if confined:
            cmd, env = sandbox_command(self.spec_path, argv), self.launcher_env
        else:
            cmd, env = argv, self.env
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, cwd=self.workdir, capture_output=True, check=False)
        elapsed = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"bench command failed ({'confined' if confined else 'plain'}): {done.stderr[-800:]!r}")
        return elapsed, done.stdout.decode()


def alternate(runner: Runner, code: str, reps: int) -> dict[str, list[float]]:
    """Wall times of ``reps`` runs each, confined and plain interleaved."""
    out: dict[str, list[float]] = {"plain": [], "confined": []}
    for i in range(reps):
        for confined in (i % 2 == 0, i % 2 != 0):
            elapsed, _ = runner.run(code, confined=confined)
            out["confined" if confined else "plain"].append(elapsed)
    return out


def rounds(runner: Runner, code: str, reps: int) -> dict[str, dict[str, list[float]]]:
    """Per-round wall and CPU times measured inside the child (first round of each run dropped as warm-up),
    and the per-pair ratio confined/plain of each run's median round (pairs run back to back)."""
    out: dict[str, dict[str, list[float]]] = {
        "wall": {"plain": [], "confined": []},
        "cpu": {"plain": [], "confined": []},
        "pair_ratio": {"wall": [], "cpu": []},
    }
    for i in range(reps):
        medians: dict[str, dict[str, float]] = {}
        for confined in (i % 2 == 0, i % 2 != 0):
            _, stdout = runner.run(code, confined=confined)
            wall, cpu = json.loads(stdout.strip().splitlines()[-1])
            key = "confined" if confined else "plain"
            out["wall"][key].extend(wall[1:])
            out["cpu"][key].extend(cpu[1:])
            medians[key] = {"wall": statistics.median(wall[1:]), "cpu": statistics.median(cpu[1:])}
        for clock in ("wall", "cpu"):
            out["pair_ratio"][clock].append(medians["confined"][clock] / medians["plain"][clock])
    return out


def compare(samples: dict[str, list[float]]) -> dict[str, Any]:
    """Both summaries and the confined overhead of the medians (ms and %)."""
    plain, confined = summary(samples["plain"]), summary(samples["confined"])
    delta = confined["median_ms"] - plain["median_ms"]
    return {
        "plain": plain,
        "confined": confined,
        "overhead_ms": delta,
        "overhead_pct": 100 * delta / plain["median_ms"],
    }


def compare_rounds(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """:func:`compare` on wall and CPU time, plus the median paired overhead (%), the least noisy figure."""
    return {
        "wall": compare(samples["wall"]),
        "cpu": compare(samples["cpu"]),
        "paired_overhead_pct": {k: 100 * (statistics.median(v) - 1) for k, v in samples["pair_ratio"].items()},
        "pairs": len(samples["pair_ratio"]["wall"]),
    }


def row(label: str, r: dict[str, Any]) -> str:
    """One Markdown table row of a :func:`compare` result."""
    return (
        f"| {label} | {r['plain']['median_ms']:.1f} ms (p95 {r['plain']['p95_ms']:.1f}, n={r['plain']['n']}) "
        f"| {r['confined']['median_ms']:.1f} ms (p95 {r['confined']['p95_ms']:.1f}) "
        f"| {r['overhead_ms']:+.1f} ms ({r['overhead_pct']:+.1f} %) |"
    )


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions (about 1 min instead of about 6)")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    args = p.parse_args()
    support = probe()
    if not support.available:
        print(f"bench.sandbox: skipped, {support.reason}", file=sys.stderr)
        return 0
    start_reps, torch_reps, round_reps = (10, 3, 2) if args.quick else (30, 10, 10)
    n_rounds, steps = (4, 60) if args.quick else (6, 150)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        runner = Runner(Path(tmp))
        results["startup_python"] = compare(alternate(runner, "pass", start_reps))
        results["startup_torch"] = compare(alternate(runner, "import torch", torch_reps))
        results["round_torch"] = compare_rounds(
            rounds(runner, ROUND.format(rounds=n_rounds, steps=steps, threads=1), round_reps)
        )
        results["round_cpu"] = compare_rounds(rounds(runner, CPU.format(rounds=n_rounds, n=3_000_000), round_reps))
        report_file = Path(tmp) / "denials.jsonl"
        denials = report_file.read_text() if report_file.exists() else ""
    if denials:
        raise SystemExit("bench.sandbox: the benchmark job must run without a denial")
    round_ms = results["round_torch"]["wall"]["plain"]["median_ms"]
    startup_of_round = 100 * results["startup_torch"]["overhead_ms"] / round_ms
    report = {
        "bench": STEM,
        "quick": args.quick,
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "landlock_abi": support.abi,
        },
        "round": {"rounds_per_run": n_rounds, "steps_per_round": steps, "torch_threads": 1},
        "results": results,
        "startup_overhead_pct_of_one_round": startup_of_round,
        "target_pct": 2.0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{STEM}.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = ["| measurement | unconfined | confined | overhead of medians |", "|---|---:|---:|---:|"]
    rows.append(row("start-up, `python -c pass` (wall, to exit)", results["startup_python"]))
    rows.append(row("start-up, `python -c 'import torch'` (wall, to exit)", results["startup_torch"]))
    labels = {"round_torch": f"round: {steps} LSTM train steps + torch.save", "round_cpu": "round: pure-Python loop"}
    for key, label in labels.items():
        for clock in ("wall", "cpu"):
            rows.append(row(f"{label} ({clock})", results[key][clock]))
    paired = [
        f"| {labels[k]} | {results[k]['pairs']} | {results[k]['paired_overhead_pct']['wall']:+.2f} % "
        f"| {results[k]['paired_overhead_pct']['cpu']:+.2f} % |"
        for k in labels
    ]
    md = (
        "# Sandbox cost: confined job code against the same job unconfined\n\n"
        f"`python -m bench.sandbox{' --quick' if args.quick else ''}` on {report['host']['machine']}, "
        f"{report['host']['cpus']} CPUs shared with other work, Python {report['host']['python']}, kernel "
        f"{report['host']['kernel']}, Landlock ABI {support.abi}. Confined = Landlock (files, TCP, scopes) + "
        "seccomp + rlimits + the reporting audit hook, started through `python -m node.site.sandbox`; unconfined = "
        "the same interpreter, environment and folder. Runs interleaved; medians.\n\n"
        + "\n".join(rows)
        + "\n\nPer-round overhead, median over back-to-back pairs of runs of (confined median round / unconfined "
        "median round - 1), the figure least disturbed by the machine's other load (target: under 2 %):\n\n"
        "| round | pairs | wall | CPU time |\n|---|---:|---:|---:|\n"
        + "\n".join(paired)
        + f"\n\nStart-up overhead per job (with the torch import) is {startup_of_round:+.2f} % of ONE round; a job "
        "pays it once, not per round.\n"
    )
    (args.out / f"{STEM}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
