"""`fednode dashboard` opens only a home that holds a site (else exit 4, nothing created); an invalid policy.yaml
does not lock the steward out: the dashboard opens and its Policy tab shows the error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.widgets import Static
from typer.testing import CliRunner

from fednode.errors import NotFoundError
from fednode.settings import Settings
from node.cli.main import app
from node.site.desk import SiteDesk
from tests.tui.pilotkit import until
from tests.tui.sitekit import open_site
from tui import make_app
from tui.widgets.policy_pane import PolicyPane, validation_line


def _no_execve(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    started: list[list[str]] = []
    monkeypatch.setattr("os.execve", lambda path, argv, env: started.append(argv))
    return started


def test_dashboard_on_an_empty_home_says_no_site_is_set_up_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "nohome"
    monkeypatch.setenv("FEDNODE_HOME", str(home))
    started = _no_execve(monkeypatch)
    result = CliRunner().invoke(app, ["dashboard"], env={"COLUMNS": "80"})
    assert result.exit_code == 4, result.output
    assert "holds no site" in result.stderr and "fednode site init" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not started and not home.exists()
    as_json = CliRunner().invoke(app, ["dashboard", "--json"])
    assert as_json.exit_code == 4 and json.loads(as_json.stdout)["exit_code"] == 4
    assert not home.exists()


def test_the_dashboard_program_on_an_empty_home_creates_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "nohome")
    with pytest.raises(NotFoundError, match="holds no site"):
        SiteDesk.from_settings(settings, read_only=True)
    assert not settings.home.exists()


def test_an_invalid_policy_still_opens_the_dashboard_and_shows_the_error(
    fednode_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_site(fednode_home).desk.close()  # a site with state.db and its key
    policy = fednode_home / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("\napproval:", "\naproval:"), encoding="utf-8")
    started = _no_execve(monkeypatch)
    result = CliRunner().invoke(app, ["dashboard"])
    assert result.exit_code == 0, result.output
    assert started  # the terminal is handed to the dashboard
    desk = SiteDesk.from_settings(Settings(home=fednode_home), read_only=True)
    try:
        asyncio.run(_policy_tab(desk))
    finally:
        desk.close()


async def _policy_tab(desk: SiteDesk) -> None:
    app = make_app(desk.settings, desk)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one("#jobs-status", Static)
        await until(pilot, lambda: "policy INVALID" in str(status.render()))
        await pilot.press("5")
        pane = app.query_one(PolicyPane)
        await until(pilot, lambda: pane.report is not None)
        assert pane.report is not None
        line = validation_line(pane.report).plain
        assert "policy INVALID" in line and "approval" in line
