"""``python -m bench.byoc [--quick] [--out bench/results]``: per-round cost of running a BYOC job confined.

The same NVFlare Client API job (a numpy "training" step of fixed work on a model of ``--floats`` float32
values, FedAvg, one client) runs in NVFlare 2.9's simulator three ways:

- ``in_process``: as the researcher wrote it (``ClientAPIExecutor`` in-process; the script runs in the job
  process, which is what the site no longer allows);
- ``external``: the same script as an external process (NVFlare's own ``python3 -u custom/<script>.py``);
- ``confined``: the site's form (``node.site.byoc_config.confined_config`` with ``node.site.joblauncher``'s
  ``trainer_command``): the wrapper confines it with Landlock, seccomp, rlimits and the audit hook.

The script records the time each round's model arrives; a round's time is the gap between two arrivals
(transport both ways, aggregation, the step). Per-round overhead = median(confined) / median(in_process) - 1,
and confined against external isolates the sandbox itself. Start-up (first arrival after the job starts) is
reported too. Target (issue 12): under 2 % of a round. Writes ``byoc.json`` and ``byoc.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STEM = "byoc"

SCRIPT = """
import json, time
import numpy as np
import nvflare.client as flare

flare.init()
arrivals, steps = [], []
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    arrivals.append(time.time())
    params = {k: np.asarray(v, dtype=np.float32) for k, v in (model.params or {}).items()}
    t0 = time.perf_counter()
    x = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    for _ in range(WORK):
        x = np.tanh(x @ x / 256.0)
    params = {k: v + 0.001 for k, v in params.items()}
    steps.append(time.perf_counter() - t0)
    with open("round_times.json", "w") as fh:
        json.dump({"arrivals": arrivals, "steps": steps}, fh)
    flare.send(flare.FLModel(params=params, metrics={"loss": float(x.mean())}))
"""


def _job(root: Path, *, floats: int, rounds: int, work: int) -> Path:
    job = root / "bench-byoc"
    (job / "app" / "config").mkdir(parents=True)
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / "bench_train.py").write_text(SCRIPT.replace("WORK", str(work)))
    server = {
        "format_version": 2,
        "workflows": [
            {
                "id": "fedavg",
                "path": "nvflare.app_common.workflows.fedavg.FedAvg",
                "args": {"num_clients": 1, "num_rounds": rounds, "model": {"w": [0.0] * floats}, "save_filename": None},
            }
        ],
        "components": [],
    }
    (job / "app" / "config" / "config_fed_server.json").write_text(json.dumps(server))
    (job / "meta.json").write_text(
        json.dumps({"name": "bench-byoc", "resource_spec": {}, "min_clients": 1, "deploy_map": {"app": ["@ALL"]}})
    )
    return job


def _client_config(args: dict[str, Any]) -> dict[str, Any]:
    executor = {"path": "nvflare.app_common.executors.client_api_executor.ClientAPIExecutor", "args": args}
    return {"format_version": 2, "executors": [{"tasks": ["*"], "executor": executor}], "components": []}


MODES = ("in_process", "external", "confined")
IN_PROCESS = {"execution_mode": "in_process", "task_script_path": "bench_train.py", "params_exchange_format": "numpy"}
EXTERNAL = {
    "execution_mode": "external_process",
    "command": [sys.executable, "-u", "custom/bench_train.py"],
    "params_exchange_format": "numpy",
}


def _run(job: Path, workspace: Path, config: dict[str, Any]) -> dict[str, Any]:
    from nvflare.private.fed.app.simulator.simulator_runner import SimulatorRunner

    (job / "app" / "config" / "config_fed_client.json").write_text(json.dumps(config))
    t0 = time.perf_counter()
    runner = SimulatorRunner(job_folder=str(job), workspace=str(workspace), n_clients=1, threads=1)
    code = runner.run()
    wall = time.perf_counter() - t0
    found = list(workspace.rglob("round_times.json"))
    if code or not found:
        raise RuntimeError(f"the simulator run failed (code {code}, round times found: {len(found)})")
    data = json.loads(found[0].read_text())
    arrivals = data["arrivals"]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    return {"wall_s": round(wall, 2), "round_s": gaps, "step_s": data["steps"], "app_dir": str(found[0].parent)}


def _confined_config(app_dir: Path, spec_dir: Path) -> dict[str, Any]:
    """The site's form of the job: ``job_spec`` and ``trainer_command`` as the launcher builds them (the code
    stays in ``custom/`` here: the simulator starts no site launcher)."""
    from node.site.byoc_config import confined_config, plan_client_config
    from node.site.joblauncher import TRAINER_MODULE, job_spec
    from policies.policy_model import SandboxSection

    spec_dir.mkdir(parents=True, exist_ok=True)  # outside the simulator's workspace, which it recreates
    app_dir.mkdir(parents=True, exist_ok=True)
    spec = job_spec(
        app_dir,
        code=app_dir / "custom",
        read_only=(),
        report_path=spec_dir / "denials.jsonl",
        section=SandboxSection(),
        python=sys.executable,
    )
    spec_path = spec.write(spec_dir / "spec.json")
    task = plan_client_config(_client_config(IN_PROCESS))
    python = sys.executable
    command = [python, "-I", "-m", TRAINER_MODULE, "--spec", str(spec_path), "--", python, "-u", task.app_path]
    return confined_config(_client_config(IN_PROCESS), command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.byoc", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a smaller model")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--floats", type=int, default=None, help="model size in float32 values")
    parser.add_argument("--work", type=int, default=None, help="matrix products per step")
    parser.add_argument("--repeats", type=int, default=None, help="runs of each mode, in alternating order")
    ns = parser.parse_args(argv)
    from node.site.sandbox import probe

    support = probe()
    if not support.available:
        print(f"bench.byoc: the kernel cannot confine here ({support.reason})", file=sys.stderr)
        return 1
    rounds = ns.rounds or (4 if ns.quick else 8)
    floats = ns.floats or (65_536 if ns.quick else 1_048_576)
    work = ns.work or (20 if ns.quick else 120)
    os.environ.setdefault("HOME", tempfile.mkdtemp(prefix="bench-byoc-home-"))  # NVFlare writes ~/.nvflare
    scratch = Path(tempfile.mkdtemp(prefix="bench-byoc-"))
    repeats = ns.repeats or (1 if ns.quick else 2)
    seen_app: dict[str, str] = {}
    results: dict[str, Any] = {m: {"round_s": [], "step_s": [], "wall_s": 0.0} for m in MODES}
    try:
        job = _job(scratch, floats=floats, rounds=rounds, work=work)
        configs: dict[str, dict[str, Any]] = {
            "in_process": _client_config(IN_PROCESS),
            "external": _client_config(EXTERNAL),
        }
        for rep in range(repeats):
            order = MODES if rep % 2 == 0 else MODES[::-1]  # alternate, so drift on the shared machine hits all
            for mode in order:
                ws = scratch / f"ws-{mode}-{rep}"
                if mode == "confined":
                    if "external" not in seen_app:  # learn where the simulator puts the app folder
                        probe_ws = scratch / "ws-layout"
                        seen_app["external"] = str(
                            Path(_run(job, probe_ws, configs["external"])["app_dir"]).relative_to(probe_ws)
                        )
                    config = _confined_config(ws / seen_app["external"], scratch / f"fednode-sandbox-{rep}")
                else:
                    config = configs[mode]
                got = _run(job, ws, config)
                if mode == "external":
                    seen_app["external"] = str(Path(got["app_dir"]).relative_to(ws))
                results[mode]["round_s"] += got["round_s"]
                results[mode]["step_s"] += got["step_s"]
                results[mode]["wall_s"] += got["wall_s"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    med = {k: statistics.median(v["round_s"]) for k, v in results.items()}
    report = {
        "bench": STEM,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "landlock_abi": support.abi,
        "rounds": rounds,
        "repeats": repeats,
        "model_floats": floats,
        "work": work,
        "median_round_s": {k: round(v, 4) for k, v in med.items()},
        "median_step_s": {k: round(statistics.median(v["step_s"]), 4) for k, v in results.items()},
        "wall_s": {k: round(v["wall_s"], 1) for k, v in results.items()},
        "overhead_vs_in_process_pct": round(100 * (med["confined"] / med["in_process"] - 1), 2),
        "overhead_vs_external_pct": round(100 * (med["confined"] / med["external"] - 1), 2),
        "target_pct": 2.0,
    }
    ns.out.mkdir(parents=True, exist_ok=True)
    (ns.out / f"{STEM}.json").write_text(json.dumps(report, indent=2) + "\n")
    (ns.out / f"{STEM}.md").write_text(_markdown(report))
    print(json.dumps(report, indent=2))
    return 0


def _markdown(r: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {k} | {r['median_round_s'][k]:.3f} | {r['median_step_s'][k]:.3f} | {r['wall_s'][k]:.1f} |"
        for k in ("in_process", "external", "confined")
    )
    return (
        f"# BYOC job confined vs unconfined (NVFlare simulator, {r['repeats']} x {r['rounds']} rounds, "
        f"{r['model_floats']} float32)\n\n"
        "| mode | median round (s) | median step (s) | whole runs (s) |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Per-round overhead, confined vs in-process: **{r['overhead_vs_in_process_pct']} %**; "
        f"vs NVFlare's own external process: **{r['overhead_vs_external_pct']} %** (target < {r['target_pct']} %). "
        f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}, Landlock ABI {r['landlock_abi']}.\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
