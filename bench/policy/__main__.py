"""``python -m bench.policy [--quick] [--files 50] [--out bench/results]``.

Times the policy verdict on a bring-your-own-code job of N Python files (default 50, each a realistic
~150-line PyTorch training module): reading the job folder into a manifest (every file hashed, the app digest),
the AST scan alone, and the whole verdict (every rule, the scan included). The same job with one hidden
evasion per file checks that findings cost nothing extra. Writes ``policy.json`` and ``policy.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from policies.codescan import scan_manifest
from policies.manifest import build_manifests
from policies.policy_model import load_policy, parse_policy
from policies.verdicts import SiteState, evaluate

STEM = "policy"
EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "examples" / "site-policy.yaml"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)

MODULE = '''
"""Module {i}: part of a federated NER trainer (benchmark fixture)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


@dataclass
class Config{i}:
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.1
    lr: float = 5e-5
    epochs: int = 1
    batch_size: int = 16


class Tokens{i}(Dataset):
    def __init__(self, rows: list[tuple[list[int], list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids, labels = self.rows[idx]
        return torch.tensor(ids), torch.tensor(labels)


class Tagger{i}(nn.Module):
    def __init__(self, cfg: Config{i}, vocab: int, labels: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.hidden)
        self.encoder = nn.LSTM(cfg.hidden, cfg.hidden, cfg.layers, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * cfg.hidden, labels)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(self.embed(ids))
        return self.head(self.drop(out))


def collate{i}(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x, _ in batch)
    ids = torch.zeros(len(batch), width, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (x, y) in enumerate(batch):
        ids[row, : len(x)] = x
        labels[row, : len(y)] = y
    return ids, labels


def train_epoch{i}(model: Tagger{i}, loader: DataLoader, opt: torch.optim.Optimizer) -> float:
    model.train()
    total, steps = 0.0, 0
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    for ids, labels in loader:
        opt.zero_grad()
        logits = model(ids)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total += float(loss)
        steps += 1
    return total / max(steps, 1)


def evaluate{i}(model: Tagger{i}, loader: DataLoader) -> dict[str, float]:
    model.eval()
    correct = seen = 0
    with torch.no_grad():
        for ids, labels in loader:
            pred = model(ids).argmax(-1)
            mask = labels != -100
            correct += int((pred[mask] == labels[mask]).sum())
            seen += int(mask.sum())
    accuracy = correct / max(seen, 1)
    return {{"accuracy": accuracy, "perplexity": math.exp(1 - accuracy)}}


def run{i}(rows: list[tuple[list[int], list[int]]], cfg: Config{i} | None = None) -> dict[str, float]:
    cfg = cfg or Config{i}()
    model = Tagger{i}(cfg, vocab=30522, labels=3)
    loader = DataLoader(Tokens{i}(rows), batch_size=cfg.batch_size, collate_fn=collate{i})
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    history = [train_epoch{i}(model, loader, opt) for _ in range(cfg.epochs)]
    metrics = evaluate{i}(model, loader)
    metrics["loss"] = history[-1]
    with open("metrics_{i}.json", "w") as fh:
        json.dump(metrics, fh)
    torch.save(model.state_dict(), "model_{i}.pt")
    return metrics
'''

EVASIONS = [
    "import os as o\no.system('id')",
    "getattr(__builtins__, 'ev' + 'al')('1')",
    "__import__('o' + 's').popen('id')",
    "from subprocess import run as r\nr(['id'])",
    "import torch as t\nt.load('x.pt')",
]


def write_job(root: Path, n_files: int, evil: bool) -> Path:
    job = root / ("evil_job" if evil else "clean_job")
    custom = job / "app" / "custom"
    (job / "app" / "config").mkdir(parents=True)
    custom.mkdir()
    meta = {
        "name": job.name,
        "min_clients": 3,
        "deploy_map": {"app": ["@ALL"]},
        "submitter_name": "lead@karolinska.example",
        "submitter_org": "Karolinska Institutet",
        "custom_props": {
            "fednode": {
                "algorithm": "fedavg",
                "rounds": 10,
                "dataset": "omop",
                "dp": {"noise_multiplier": 1.0, "max_grad_norm": 1.0, "target_epsilon": 1.5, "delta": 1e-5},
            }
        },
    }
    (job / "meta.json").write_text(json.dumps(meta, indent=2))
    executor = {  # what NVFlare 2.9's ScriptRunner exports; the BYOC config rules allow nothing else
        "path": "nvflare.app_common.executors.client_api_executor.ClientAPIExecutor",
        "args": {"execution_mode": "in_process", "task_script_path": "module_00.py"},
    }
    client = {"format_version": 2, "executors": [{"tasks": ["*"], "executor": executor}]}
    (job / "app" / "config" / "config_fed_client.json").write_text(json.dumps(client))
    (job / "app" / "config" / "config_fed_server.json").write_text('{"format_version": 2, "workflows": []}')
    for i in range(n_files):
        text = textwrap.dedent(MODULE.format(i=i))
        if evil:
            text += "\n\ndef hidden():\n" + textwrap.indent(EVASIONS[i % len(EVASIONS)], "    ") + "\n"
        (custom / f"module_{i:02d}.py").write_text(text)
    return job


def timed(fn: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    out: Any = None
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "min_ms": round(ordered[0], 3),
        "reps": len(ordered),
    }


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.policy", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="10 repetitions instead of 60")
    p.add_argument("--files", type=int, default=50)
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    args = p.parse_args()
    reps = 10 if args.quick else 60
    policy = load_policy(EXAMPLE)
    state = SiteState(policy, NOW, {"omop": 8.0}, 500)
    # A BYOC-allowing variant of the example so the clean job is judged on its code, not refused for its kind.
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["jobs"]["kinds"] = ["config_only", "byoc"]
    byoc_policy = parse_policy(raw)
    byoc_state = SiteState(byoc_policy, NOW, {"omop": 8.0}, 500)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for evil in (False, True):
            job_dir = write_job(Path(tmp), args.files, evil)
            read_ms, manifests = timed(lambda d=job_dir: build_manifests(d, site="site-oslo", submitted_at=NOW), reps)
            [manifest] = manifests.values()
            scan_ms, findings = timed(lambda m=manifest: scan_manifest(m), reps)
            verdict_ms, verdict = timed(lambda m=manifest: evaluate(m, byoc_state), reps)
            total_ms, _ = timed(
                lambda d=job_dir: [
                    evaluate(m, byoc_state) for m in build_manifests(d, site="site-oslo", submitted_at=NOW).values()
                ],
                reps,
            )
            py = [f for f in manifest.files if f.path.endswith(".py")]
            results["evil" if evil else "clean"] = {
                "python_files": len(py),
                "bytes": sum(f.size for f in manifest.files),
                "lines": sum((f.content or "").count("\n") for f in py),
                "findings": len(findings),
                "allowed": verdict.allowed,
                "read_manifest": summary(read_ms),
                "scan": summary(scan_ms),
                "verdict": summary(verdict_ms),
                "read_and_verdict": summary(total_ms),
            }
        assert results["clean"]["allowed"], "the clean benchmark job must be allowed"
        assert not results["evil"]["allowed"] and results["evil"]["findings"] >= args.files
        _ = evaluate(manifest, state)  # the example policy itself refuses BYOC: sanity only
    report = {
        "benchmark": STEM,
        "quick": args.quick,
        "files": args.files,
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{STEM}.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        "| job | .py files | lines | findings | read + hash | AST scan | verdict (all rules) | read + verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        cells = [
            f"{r[k]['median_ms']:.1f} ms (p95 {r[k]['p95_ms']:.1f})"
            for k in ("read_manifest", "scan", "verdict", "read_and_verdict")
        ]
        rows.append(f"| {name} | {r['python_files']} | {r['lines']} | {r['findings']} | " + " | ".join(cells) + " |")
    md = (
        f"# Policy verdict time, job of {args.files} Python files\n\n"
        f"`python -m bench.policy{' --quick' if args.quick else ''}` on {report['host']['machine']}, "
        f"{report['host']['cpus']} CPUs, Python {report['host']['python']}; medians over {reps} runs.\n\n"
        + "\n".join(rows)
        + "\n\n`evil` hides one forbidden call per file (alias, getattr with a built name, string-built import, "
        "aliased from-import, torch.load without weights_only); every one is found.\n"
    )
    (args.out / f"{STEM}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
