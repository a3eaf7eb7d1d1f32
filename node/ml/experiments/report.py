"""Write an experiment's results: JSON, a Markdown table shaped like the seed paper's Tables 1 and 2, a PNG plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fednode.atomic import write_text_atomic
from node.ml.experiments.runner import ExperimentReport

TITLES = {
    "clients": "Federated vs central NER by number of sites (even shares)",
    "imbalance": "Federated vs central NER under data imbalance (two sites)",
}


def markdown_table(report: ExperimentReport) -> str:
    """Rows precision / recall / F1, one column per configuration and a final Central column."""
    cols = report.columns
    cfg = report.config
    head = "| Metric | " + " | ".join(c.name for c in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    rows = [
        f"| {label} | " + " | ".join(f"{c.final[key]:.3f}" for c in cols) + " |"
        for label, key in (
            ("Precision", "precision"),
            ("Recall", "recall"),
            ("F1", "f1"),
            ("Token accuracy", "accuracy"),
        )
        if all(key in c.final for c in cols)
    ]
    hw = report.hardware
    where = hw.get("gpu") or f"CPU ({hw.get('cpu_count')} cores)"
    if cfg.protocol == "standard":
        scored = "Entity-level seqeval over words on the standard NCBI-disease test set"
    else:
        scored = (
            f"Protocol `{cfg.protocol}` (NVIDIA FLARE's example: seeded 80/10/10 re-split of all sentences, "
            f"{'all' if cfg.subword_labels == 'all' else 'first'} sub-word(s) labelled, seqeval over labelled "
            "sub-word positions) on its test set"
        )
    tuning = [
        *(["schedule linear (warm-up, decay in each local call)"] if cfg.schedule == "linear" else []),
        *([f"head lr {cfg.head_lr:g}"] if cfg.head_lr is not None else []),
        *(["later sub-words trained as continuations"] if cfg.subword_labels == "continue" else []),
    ]
    note = (
        f"{scored} ({report.data['test_sentences']} sentences, "
        f"{report.data['test_mentions']} mentions) after {cfg.rounds} round(s) x {cfg.local_epochs} local epoch(s); "
        f"central: {cfg.rounds * cfg.local_epochs} epoch(s) on the same {report.data['train_sentences']} training "
        f"sentences. Model `{cfg.model}`, batch {cfg.batch_size}, lr {cfg.learning_rate:g}"
        f"{''.join(', ' + t for t in tuning)}, "
        f"aggregation `{cfg.aggregator}`, seed {cfg.seed}; {where}, torch {hw.get('torch')}; "
        f"{report.seconds / 60:.1f} min."
    )
    title = TITLES.get(report.kind, report.kind)
    return "\n".join([f"### {title}", "", head, rule, *rows, "", note, ""])


def plot_f1(reports: Sequence[ExperimentReport], path: Path) -> Path:
    """F1 on the test set after each round, one line per configuration (central dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(reports), figsize=(6 * len(reports), 4), squeeze=False)
    for ax, report in zip(axes[0], reports, strict=True):
        for run in report.columns:
            xs = [r.round for r in run.rounds]
            ys = [r.f1 for r in run.rounds]
            style = "--" if run is report.central else "-"
            ax.plot(xs, ys, style, marker="o", markersize=3, label=run.name)
        ax.set_title(TITLES.get(report.kind, report.kind), fontsize=10)
        ax.set_xlabel("round (central: epoch)")
        ax.set_ylabel("entity-level F1 (test)")
        ax.set_ylim(0.0, 1.0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(report: ExperimentReport, out_dir: Path, stem: str | None = None) -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>_f1.png`` into ``out_dir``; return the paths."""
    stem = stem or f"experiment_{report.kind}"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json", "markdown": out_dir / f"{stem}.md", "plot": out_dir / f"{stem}_f1.png"}
    write_json(report.as_dict(), paths["json"])
    paths["markdown"].write_text(markdown_table(report), encoding="utf-8")
    plot_f1([report], paths["plot"])
    return paths


def write_json(payload: dict[str, Any], path: Path) -> None:
    """Pretty JSON, written to a temporary file first so a crash never leaves half a file."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
