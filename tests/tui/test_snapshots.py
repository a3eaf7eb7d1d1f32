"""Snapshots of every screen at 80x24, on a real site with a pinned clock (pytest-textual-snapshot).

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.tui.pilotkit import jobs_loaded, settle, until
from tests.tui.sitekit import Site, open_site, populate
from tui import make_app
from tui.screens.decision_dialog import DecisionDialog
from tui.screens.error_dialog import ErrorDialog
from tui.screens.review import JobReviewScreen
from tui.widgets.data_pane import DataPane
from tui.widgets.policy_pane import PolicyPane

SIZE = (80, 24)
Compare = Callable[..., bool]


@pytest.fixture
def rich_site(fednode_home: Path) -> Iterator[Site]:
    """Four eyes, TOTP, and a history (see ``populate``)."""
    s = open_site(fednode_home)
    populate(s)
    yield s
    s.desk.close()


def _open(job_id: str, *keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await jobs_loaded(pilot, 4)
        table = pilot.app.query_one("#jobs-table", DataTable)
        table.move_cursor(row=table.get_row_index(job_id))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, JobReviewScreen) and pilot.app.screen.rules is not None)
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


def _tab(key: str, ready: Callable[[Pilot[None]], bool]) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await jobs_loaded(pilot, 4)
        await pilot.press(key)
        await until(pilot, lambda: ready(pilot))
        await settle(pilot)

    return run


def _text(pilot: Pilot[None], selector: str) -> str:
    return str(pilot.app.query_one(selector, Static).render())


def test_jobs(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_tab("1", lambda p: True))


def test_review_code_with_findings(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_open("job-evil"))


def test_review_diff_against_last_approved(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_open("job-2", "d"))


def test_review_verdict_denied(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_open("job-evil", "v"))


def test_review_facts(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_open("job-2", "i"))


def test_approve_dialog_four_eyes_totp(snap_compare: Compare, rich_site: Site) -> None:
    secret = rich_site.enroll("privacy.officer")
    rich_site.desk.approve("job-2", "privacy.officer", "first look: fine", rich_site.code(secret))
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)

    async def run(pilot: Pilot[None]) -> None:
        await _open("job-2", "a")(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, DecisionDialog))
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_training(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    ready = _tab("2", lambda p: "3 of 20 rounds" in _text(p, "#training-summary"))
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_data(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    ready = _tab("3", lambda p: p.app.query_one(DataPane).report is not None)
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_audit(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    ready = _tab(
        "4",
        lambda p: "verified" in _text(p, "#audit-chain") and p.app.query_one("#audit-table", DataTable).row_count > 0,
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_policy(snap_compare: Compare, rich_site: Site) -> None:
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)
    ready = _tab("5", lambda p: p.app.query_one(PolicyPane).report is not None)
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_error_dialog(snap_compare: Compare, rich_site: Site) -> None:
    with sqlite3.connect(rich_site.settings.state_db_path) as db:
        db.execute("UPDATE audit_record SET details_json = '{}' WHERE seq = 3")
    app = make_app(rich_site.settings, rich_site.desk, clock=rich_site.clock)

    async def run(pilot: Pilot[None]) -> None:
        await _tab("4", lambda p: "BROKEN" in _text(p, "#audit-chain"))(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(pilot.app.screen, ErrorDialog))
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)
