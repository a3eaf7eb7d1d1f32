"""In-process federated simulation of the seed paper's experiments, on the same trainer and aggregators the
sites and the coordinator run (no NVFlare, no pydantic: it also runs on a bare GPU machine).

    from node.ml.experiments import ExperimentConfig, ExperimentContext, clients_configurations, run_experiment
    ctx = ExperimentContext.load(ExperimentConfig(rounds=20, model="minilm", device="cuda"))
    report = run_experiment("clients", clients_configurations([2, 4, 6]), ctx)
    write_report(report, Path("bench/results"))     # JSON, Markdown table (P/R/F1 x configuration), F1 plot
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from node.ml.experiments.config import ExperimentConfig, parse_shares, parse_sites, shares_label

if TYPE_CHECKING:
    from node.ml.experiments.report import markdown_table, plot_f1, write_json, write_report
    from node.ml.experiments.runner import (
        CENTRAL,
        ExperimentContext,
        ExperimentReport,
        clients_configurations,
        hardware_info,
        imbalance_configurations,
        measure_overhead,
        run_experiment,
    )
    from node.ml.experiments.simulation import RoundRecord, RunResult, run_federation

_LAZY = {
    **dict.fromkeys(("markdown_table", "plot_f1", "write_json", "write_report"), "report"),
    **dict.fromkeys(
        (
            "CENTRAL",
            "ExperimentContext",
            "ExperimentReport",
            "clients_configurations",
            "hardware_info",
            "imbalance_configurations",
            "measure_overhead",
            "run_experiment",
        ),
        "runner",
    ),
    **dict.fromkeys(("RoundRecord", "RunResult", "run_federation"), "simulation"),
}
"""What loads torch on first use: the CLI parses and checks its options before that (``--sites``, ``--shares``)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


__all__ = [
    "CENTRAL",
    "ExperimentConfig",
    "ExperimentContext",
    "ExperimentReport",
    "RoundRecord",
    "RunResult",
    "clients_configurations",
    "hardware_info",
    "imbalance_configurations",
    "markdown_table",
    "measure_overhead",
    "parse_shares",
    "parse_sites",
    "plot_f1",
    "run_experiment",
    "run_federation",
    "shares_label",
    "write_json",
    "write_report",
]
