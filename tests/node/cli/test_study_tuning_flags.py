"""`fednode study submit --schedule/--head-lr/--subword-labels`: a bad value is a usage error naming the flag before
anything is built; good values reach every site's executor arguments in the job that is submitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from node.cli import commands_fl
from node.cli.main import app
from node.coordinator.provision import SiteKit, provision_federation


def _limits(tmp_path: Path) -> Path:
    path = tmp_path / "limits.md"
    path.write_text("Trained on English abstracts only.\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--schedule", "cosine"], "--schedule"),
        (["--head-lr", "0"], "--head-lr"),
        (["--subword-labels", "all"], "--subword-labels"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else v,
)
def test_a_bad_value_is_a_usage_error_naming_the_flag_and_nothing_is_built(
    tmp_path: Path, flags: list[str], named: str
) -> None:
    home = tmp_path / "home"
    args = ["--home", str(home), "--json", "study", "submit", "--limitations", str(_limits(tmp_path)), *flags]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert named in json.loads(result.stdout.strip().splitlines()[-1])["message"]
    assert not home.exists()


class _Coordinator:
    """Stands in for the admin client only: the job is built for real and kept for inspection."""

    def __init__(self) -> None:
        self.jobs: list[Path] = []

    def check_reachable(self) -> None:
        return None

    def submit(self, job: Path) -> str:
        self.jobs.append(job)
        return "job-1"


def test_good_values_reach_every_sites_executor_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    federation = tmp_path / "federation"
    provision_federation(federation, [SiteKit("site-1", "hospital_a"), SiteKit("site-2", "hospital_b")])
    coordinator = _Coordinator()
    monkeypatch.setattr(commands_fl, "_client", lambda cli, fed: coordinator)
    args = ["--json", "study", "submit", "--federation", str(federation), "--limitations", str(_limits(tmp_path))]
    tuning = ["--model", "tiny", "--schedule", "linear", "--head-lr", "0.001", "--subword-labels", "continue"]
    result = CliRunner().invoke(app, [*args, *tuning])
    assert result.exit_code == 0, result.output
    [job] = coordinator.jobs
    executors: list[dict[str, Any]] = []
    for config in job.rglob("config_fed_client.json"):
        executors += [e["executor"]["args"] for e in json.loads(config.read_text(encoding="utf-8"))["executors"]]
    assert executors, f"no client config in {job}"
    for executor in executors:
        assert (executor["schedule"], executor["head_lr"], executor["subword_labels"]) == ("linear", 0.001, "continue")
