"""A read-only command on a site that has no state yet says so (exit 4) and creates nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app


@pytest.mark.parametrize(
    "args",
    [["jobs"], ["jobs", "--job", "nope"], ["audit", "verify"], ["audit", "export"], ["ledger", "show"]],
    ids=lambda a: " ".join(a),
)
def test_a_read_only_command_on_an_empty_home_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    home = tmp_path / "site"
    monkeypatch.setenv("FEDNODE_HOME", str(home))
    result = CliRunner().invoke(app, ["--json", *args])
    assert result.exit_code == 4, result.stdout
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["error"] == "NotFoundError" and "state.db does not exist" in payload["message"]
    assert not home.exists() or not any(home.rglob("*")), sorted(home.rglob("*"))
