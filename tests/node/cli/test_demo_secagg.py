"""``fednode demo --secure-aggregation`` refuses what secure aggregation cannot do before anything starts: a robust
aggregator (it needs each site's update in the clear), a single site, or a researcher's own job folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--algorithm", "median"], "secure aggregation cannot be combined with median"),
        (["--algorithm", "fltrust"], "secure aggregation cannot be combined with fltrust"),
        (["--sites", "1"], "needs at least 2 sites, the study has 1"),
    ],
)
def test_refused_before_anything_starts(tmp_path: Path, extra: list[str], needle: str) -> None:
    args = ["--home", str(tmp_path / "home"), "--json", "demo", "--secure-aggregation", "--model", "tiny", *extra]
    result = runner.invoke(app, [*args, "--workdir", str(tmp_path / "w")], env={"COLUMNS": "80"})
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert error["message"].startswith("--secure-aggregation: ") and needle in error["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_study_submit_refuses_a_robust_aggregator_with_secure_aggregation(tmp_path: Path) -> None:
    args = ["--home", str(tmp_path / "home"), "--json", "study", "submit", "--secure-aggregation"]
    result = runner.invoke(app, [*args, "--algorithm", "trimmed_mean"], env={"COLUMNS": "80"})
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert error["message"].startswith("--secure-aggregation: secure aggregation cannot be combined with trimmed_mean")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
