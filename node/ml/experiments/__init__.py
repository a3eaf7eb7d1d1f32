"""In-process federated simulation of the seed paper's experiments, on the same trainer and aggregators the
sites and the coordinator run (no NVFlare, no pydantic: it also runs on a bare GPU machine).

    from node.ml.experiments import ExperimentConfig, ExperimentContext, clients_configurations, run_experiment
    ctx = ExperimentContext.load(ExperimentConfig(rounds=20, model="minilm", device="cuda"))
    report = run_experiment("clients", clients_configurations([2, 4, 6]), ctx)
    write_report(report, Path("bench/results"))     # JSON, Markdown table (P/R/F1 x configuration), F1 plot
"""

from __future__ import annotations

from node.ml.experiments.config import ExperimentConfig, parse_shares, parse_sites, shares_label
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
