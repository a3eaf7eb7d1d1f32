"""The in-process experiments: end to end on the mini corpus, the CLI, and a bench path free of site-only deps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fednode.errors import ConfigError
from node.ml.experiments import (
    ExperimentConfig,
    ExperimentContext,
    RunResult,
    clients_configurations,
    imbalance_configurations,
    parse_shares,
    parse_sites,
    run_experiment,
    write_report,
)
from tests.node.ner_support import MINI

REPO = Path(__file__).resolve().parents[3]


def test_two_sites_two_rounds_end_to_end(tmp_path: Path) -> None:
    cfg = ExperimentConfig(rounds=2, model="tiny", train_limit=48, test_limit=20, data_dir=MINI, progress=False)
    ctx = ExperimentContext.load(cfg)
    report = run_experiment("clients", clients_configurations([2]), ctx)
    fed, central = report.runs[0], report.central
    assert fed.site_sizes == [24, 24] and central.site_sizes == [48]
    assert [r.round for r in fed.rounds] == [1, 2] and len(central.rounds) == 2
    last = fed.rounds[-1]
    assert last.bytes_down > 0 and last.bytes_up > 0 and central.rounds[-1].bytes_down == 0
    assert last.train_loss < fed.rounds[0].train_loss * 1.5
    paths = write_report(report, tmp_path)
    payload = json.loads(paths["json"].read_text())
    assert set(payload["table"]) == {"2 sites", "Central"}
    assert payload["data"] == {
        "train_sentences": 48,
        "train_mentions": payload["data"]["train_mentions"],
        "test_sentences": 20,
        "test_mentions": payload["data"]["test_mentions"],
    }
    assert RunResult.from_dict(payload["runs"][0]).final == fed.final
    md = paths["markdown"].read_text()
    assert "| Metric | 2 sites | Central |" in md and "| F1 |" in md
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_share_and_site_parsing() -> None:
    assert parse_sites("2,4,6") == [2, 4, 6]
    assert parse_shares("50/50,90/10") == [(50.0, 50.0), (90.0, 10.0)]
    assert imbalance_configurations([(75.0, 25.0)]) == [("75/25", [75.0, 25.0])]
    for bad in ("", "2,x", "0"):
        with pytest.raises(ConfigError):
            parse_sites(bad)
    for bad in ("100", "50/-1", "a/b"):
        with pytest.raises(ConfigError):
            parse_shares(bad)


def test_cli_imbalance_writes_table_and_plot(tmp_path: Path, fednode_home: Path) -> None:
    from node.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "--json",
            "experiment",
            "imbalance",
            "--shares",
            "75/25",
            "--rounds",
            "1",
            "--model",
            "tiny",
            "--train-limit",
            "32",
            "--test-limit",
            "10",
            "--data-dir",
            str(MINI),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["ok"] is True and set(payload["table"]) == {"75/25", "Central"}
    assert (out / "experiment_imbalance.md").is_file() and (out / "experiment_imbalance_f1.png").is_file()
    bad = CliRunner().invoke(app, ["--json", "experiment", "clients", "--sites", "two"])
    assert bad.exit_code == 2


def test_bench_path_imports_no_site_only_dependency() -> None:
    code = (
        "import sys, bench.fl.__main__, node.ml.ner, node.ml.aggregation, node.ml.experiments\n"
        "bad = [m for m in ('pydantic', 'sqlalchemy', 'nvflare', 'typer', 'opacus', 'presidio_analyzer')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("rule", ["scaffold", "fltrust", "median"])
def test_other_aggregators_run_in_the_simulation(rule: str) -> None:
    from dataclasses import replace

    from node.ml.experiments import run_federation

    cfg = ExperimentConfig(rounds=1, model="tiny", train_limit=32, test_limit=8, data_dir=MINI, progress=False)
    ctx = ExperimentContext.load(replace(cfg, aggregator=rule, extra={"root_size": 16}))
    shards = ctx.encode_shards([1.0, 1.0, 1.0])
    run = run_federation(rule, shards, ctx.test, ctx.config, model=ctx.model, initial_state=ctx.initial_state)
    assert len(run.rounds) == 1 and run.rounds[0].bytes_up > 0
    assert 0.0 <= run.final["f1"] <= 1.0
