"""``python -m bench.sandbox [--quick] [--out bench/results]``: the cost of confining job code.

Measures, confined (``python -m node.site.sandbox`` with Landlock, seccomp, rlimits and the audit hook) against
the same command unconfined (same interpreter, same minimal environment, same working directory):

- start-up per job: wall time to run ``python -c pass`` and ``python -c "import torch"`` to exit;
- the same confined without the reporting audit hook ("kernel only"), to split the hook's share;
- per-round overhead: a round of a small PyTorch training job (an LSTM tagger, forward/backward/step over
  batches, then ``torch.save`` of the weights in the working directory), timed inside the child, and a pure
  Python CPU-bound loop. Runs alternate confined/unconfined so the shared machine's noise hits both alike.

Target (issue 12): confinement costs under 2 % of a round. Writes ``sandbox.json`` and ``sandbox.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
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


ARMS = ("plain", "confined", "kernel_only")
"""Unconfined; confined (Landlock, seccomp, rlimits, audit hook); confined without the audit hook."""


class Runner:
    """Runs one command in one arm, in the same job folder with the same environment."""

    def __init__(self, root: Path) -> None:
        self.workdir = root / "job"
        self.workdir.mkdir()
        self.report = root / "denials.jsonl"
        spec = SandboxSpec.for_job(self.workdir, report_path=self.report, memory_bytes=8 << 30)
        self.spec_paths = {
            "confined": spec.write(root / "spec.json"),
            "kernel_only": dataclasses.replace(spec, audit_hook=False).write(root / "spec-nohook.json"),
        }
        self.env = {**spec.env, "TMPDIR": str(self.workdir)}
        self.launcher_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}

    def run(self, code: str, arm: str) -> tuple[float, str]:
        """(wall seconds to exit, stdout)."""
        argv = [sys.executable, "-c", code]
        if arm == "plain":
            cmd, env = argv, self.env
        else:
            cmd, env = sandbox_command(self.spec_paths[arm], argv), self.launcher_env
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, cwd=self.workdir, capture_output=True, check=False)
        elapsed = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"bench command failed ({arm}): {done.stderr[-800:]!r}")
        return elapsed, done.stdout.decode()


def order(i: int) -> tuple[str, ...]:
    """The arms of repetition ``i``, rotated so that no arm always runs first."""
    k = i % len(ARMS)
    return ARMS[k:] + ARMS[:k]


def alternate(runner: Runner, code: str, reps: int) -> dict[str, list[float]]:
    """Wall times of ``reps`` runs of each arm, interleaved."""
    out: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for i in range(reps):
        for arm in order(i):
            out[arm].append(runner.run(code, arm)[0])
    return out


def rounds(runner: Runner, code: str, reps: int) -> dict[str, dict[str, list[float]]]:
    """Per-round wall and CPU times measured inside the child (first round of each run dropped as warm-up),
    and per repetition the ratio of each confined arm's median round to the plain one's (run back to back)."""
    out: dict[str, dict[str, list[float]]] = {clock: {arm: [] for arm in ARMS} for clock in ("wall", "cpu")}
    ratios: dict[str, list[float]] = {f"{arm}/{clock}": [] for arm in ARMS[1:] for clock in ("wall", "cpu")}
    for i in range(reps):
        medians: dict[tuple[str, str], float] = {}
        for arm in order(i):
            _, stdout = runner.run(code, arm)
            wall, cpu = json.loads(stdout.strip().splitlines()[-1])
            for clock, values in (("wall", wall[1:]), ("cpu", cpu[1:])):
                out[clock][arm].extend(values)
                medians[(arm, clock)] = statistics.median(values)
        for arm in ARMS[1:]:
            for clock in ("wall", "cpu"):
                ratios[f"{arm}/{clock}"].append(medians[(arm, clock)] / medians[("plain", clock)])
    out["ratio"] = ratios
    return out


def compare(samples: dict[str, list[float]]) -> dict[str, Any]:
    """Each arm's summary and each confined arm's overhead of the medians against plain (ms and %)."""
    res: dict[str, Any] = {arm: summary(samples[arm]) for arm in ARMS}
    base = res["plain"]["median_ms"]
    for arm in ARMS[1:]:
        delta = res[arm]["median_ms"] - base
        res[f"{arm}_overhead_ms"] = delta
        res[f"{arm}_overhead_pct"] = 100 * delta / base
    return res


def compare_rounds(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """:func:`compare` per clock, plus the median paired overhead (%) per arm and clock (the least noisy)."""
    return {
        "wall": compare(samples["wall"]),
        "cpu": compare(samples["cpu"]),
        "paired_overhead_pct": {k: 100 * (statistics.median(v) - 1) for k, v in samples["ratio"].items()},
        "pairs": len(samples["ratio"]["confined/wall"]),
    }


def row(label: str, r: dict[str, Any]) -> str:
    """One Markdown table row of a :func:`compare` result."""
    cells = [f"{r['plain']['median_ms']:.1f} ms (p95 {r['plain']['p95_ms']:.1f}, n={r['plain']['n']})"]
    for arm in ARMS[1:]:
        cells.append(
            f"{r[arm]['median_ms']:.1f} ms ({r[f'{arm}_overhead_ms']:+.1f} ms, {r[f'{arm}_overhead_pct']:+.1f} %)"
        )
    return f"| {label} | " + " | ".join(cells) + " |"


INPROCESS = """
import json, os, sys, time
import torch
from torch import nn
torch.manual_seed(0)
torch.set_num_threads(1)
model = nn.Sequential(nn.Embedding(5000, 64), nn.LSTM(64, 64, batch_first=True, bidirectional=True))
head = nn.Linear(128, 5)
opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
ids, labels = torch.randint(0, 5000, (16, 48)), torch.randint(0, 5, (16, 48))

def one_round():
    c0 = time.process_time()
    for _ in range({steps}):
        opt.zero_grad()
        out, _ = model(ids)
        loss = loss_fn(head(out).reshape(-1, 5), labels.reshape(-1))
        loss.backward()
        opt.step()
    torch.save(head.state_dict(), "head.pt")
    return time.process_time() - c0

before = [one_round() for _ in range({rounds})][1:]
if {confine}:
    from node.site.sandbox import SandboxSpec
    from node.site.sandbox._confine import BOOTSTRAP_DIR, HOOK_ENV, _child_env, confine
    spec = SandboxSpec.load(sys.argv[1])
    os.environ[HOOK_ENV] = _child_env(spec, None)[HOOK_ENV]
    confine(spec)
    import runpy
    runpy.run_path(str(BOOTSTRAP_DIR / "sitecustomize.py"))
    try:
        open("/etc/shadow")
    except PermissionError:
        pass
    else:
        raise SystemExit("not confined")
after = [one_round() for _ in range({rounds})]
print(json.dumps([before, after]))
"""
"""One process times training rounds (CPU time) before and after confining itself (``confine``: Landlock,
seccomp, rlimits, then the audit hook); a control process does the same without confining. Same process, same
memory layout and warm caches on both sides of the switch, so what changes is the confinement alone."""


def in_process(runner: Runner, steps: int, n_rounds: int, reps: int) -> dict[str, Any]:
    """Median over runs of after/before (CPU time per round), confined against control, and the overhead."""
    ratios: dict[str, list[float]] = {"confined": [], "control": []}
    env = {**runner.env, "PYTHONPATH": str(REPO)}
    spec_path = str(runner.spec_paths["confined"])
    for i in range(reps):
        for arm in ("confined", "control") if i % 2 == 0 else ("control", "confined"):
            code = INPROCESS.format(steps=steps, rounds=n_rounds, confine=arm == "confined")
            done = subprocess.run(
                [sys.executable, "-c", code, spec_path], env=env, cwd=runner.workdir, capture_output=True, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"bench in-process run failed ({arm}): {done.stderr[-800:]!r}")
            before, after = json.loads(done.stdout.decode().strip().splitlines()[-1])
            ratios[arm].append(statistics.median(after) / statistics.median(before))
    confined, control = statistics.median(ratios["confined"]), statistics.median(ratios["control"])
    return {
        "runs_per_arm": reps,
        "after_over_before_confined": confined,
        "after_over_before_control": control,
        "overhead_pct": 100 * (confined / control - 1),
        "ratios": ratios,
    }


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions (about 1 min instead of about 10)")
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    args = p.parse_args()
    support = probe()
    if not support.available:
        print(f"bench.sandbox: skipped, {support.reason}", file=sys.stderr)
        return 0
    start_reps, torch_reps, round_reps = (6, 3, 3) if args.quick else (20, 6, 8)
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
        results["in_process_torch"] = in_process(runner, steps, n_rounds, round_reps)
        denials = runner.report.read_text() if runner.report.exists() else ""
    if denials:
        raise SystemExit("bench.sandbox: the benchmark job must run without a denial")
    round_ms = results["round_torch"]["wall"]["plain"]["median_ms"]
    startup_of_round = 100 * results["startup_torch"]["confined_overhead_ms"] / round_ms
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
    rows = [
        "| measurement (median) | unconfined | confined (overhead) | confined, no audit hook (overhead) |",
        "|---|---:|---:|---:|",
        row("start-up, `python -c pass` (wall, to exit)", results["startup_python"]),
        row("start-up, `python -c 'import torch'` (wall, to exit)", results["startup_torch"]),
    ]
    labels = {"round_torch": f"round: {steps} LSTM train steps + torch.save", "round_cpu": "round: pure-Python loop"}
    for key, label in labels.items():
        for clock in ("wall", "cpu"):
            rows.append(row(f"{label} ({clock})", results[key][clock]))
    paired = []
    for key, label in labels.items():
        po = results[key]["paired_overhead_pct"]
        paired.append(
            f"| {label} | {results[key]['pairs']} | {po['confined/wall']:+.2f} % | {po['confined/cpu']:+.2f} % "
            f"| {po['kernel_only/wall']:+.2f} % | {po['kernel_only/cpu']:+.2f} % |"
        )
    md = (
        "# Sandbox cost: confined job code against the same job unconfined\n\n"
        f"`python -m bench.sandbox{' --quick' if args.quick else ''}` on {report['host']['machine']}, "
        f"{report['host']['cpus']} CPUs shared with other work, Python {report['host']['python']}, kernel "
        f"{report['host']['kernel']}, Landlock ABI {support.abi}. Confined = `python -m node.site.sandbox` with "
        "Landlock (files, TCP, scopes), seccomp, rlimits and the reporting audit hook; unconfined = the same "
        "interpreter, environment and folder. The three arms run interleaved, in rotating order.\n\n"
        + "\n".join(rows)
        + "\n\nPer-round overhead: median over repetitions of (arm's median round / the unconfined run's median "
        "round, run back to back) - 1; the figure least disturbed by the machine's other load (target: under 2 %):"
        "\n\n| round | repetitions | confined, wall | confined, CPU | no hook, wall | no hook, CPU |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        + "\n".join(paired)
        + "\n\nIn-process switch (the least noisy figure): one process times CPU per round before and after "
        "confining itself (Landlock, seccomp, rlimits, audit hook); a control process runs the same without "
        f"confining. Median after/before over {results['in_process_torch']['runs_per_arm']} runs each: confined "
        f"{results['in_process_torch']['after_over_before_confined']:.4f}, control "
        f"{results['in_process_torch']['after_over_before_control']:.4f}; per-round overhead of confinement "
        f"**{results['in_process_torch']['overhead_pct']:+.2f} %** (target: under 2 %)."
        + f"\n\nStart-up overhead per job (with the torch import) is {startup_of_round:+.2f} % of ONE round; a job "
        "pays it once, not per round.\n"
    )
    (args.out / f"{STEM}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
