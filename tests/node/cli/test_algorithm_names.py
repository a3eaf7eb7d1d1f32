"""An unknown aggregation rule is refused before anything starts (a typo used to provision and load every site)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fednode.errors import ConfigError
from node.cli.main import app
from node.ml.algorithms import AGGREGATORS

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--algorithm", "fedavgg"],
        ["study", "submit", "--algorithm", "fedavgg"],
        ["experiment", "clients", "--aggregator", "fedavgg"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_an_unknown_rule_is_a_usage_error_naming_the_option(tmp_path: Path, args: list[str]) -> None:
    extra = {"demo": ["--workdir", str(tmp_path / "w")], "experiment": ["--out", str(tmp_path / "o")]}.get(args[0], [])
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "--json", *args, *extra])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert "'fedavgg'" in error["message"] and "fedprox" in error["message"]
    assert args[-2] in error["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no workdir, home or output folder


def test_the_light_list_is_the_list_make_aggregator_builds() -> None:
    from node.ml.aggregation import make_aggregator

    for name in AGGREGATORS:
        try:
            make_aggregator(name)
        except ConfigError as exc:  # known, but needs options (scaffold, fltrust)
            assert "unknown aggregator" not in exc.message
    with pytest.raises(ConfigError, match="unknown aggregator"):
        make_aggregator("fedavgg")
