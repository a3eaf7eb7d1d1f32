"""The dashboard follows state.db written by other processes, and shows failures in one error dialog."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from textual.widgets import DataTable, Input, Static

from fednode.settings import Settings
from node.site.desk import SiteDesk
from policies.contracts import JobState
from tests.tui.pilotkit import job_rows, jobs_loaded, type_text, until
from tests.tui.sitekit import Site, manifest
from tui import make_app
from tui.screens.error_dialog import ErrorDialog
from tui.screens.review import JobReviewScreen
from tui.widgets.data_pane import DataPane
from tui.widgets.policy_pane import PolicyPane

SIZE = (80, 24)


def test_a_new_pending_job_appears_within_two_seconds(single_site: Site) -> None:
    asyncio.run(_new_pending_job_appears(single_site))


async def _new_pending_job_appears(site: Site) -> None:
    site.register(manifest("job-1"))
    gate = SiteDesk.from_settings(site.settings, clock=site.clock)  # the gate: its own connection pool
    app = make_app(site.settings, site.desk, clock=site.clock)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await jobs_loaded(pilot, 1)
            gate.state.jobs.register_pending(manifest("job-2", study="cox-ph"), site.desk.job("job-1").verdict)
            started = time.monotonic()
            await until(pilot, lambda: "job-2" in job_rows(app), timeout=2.0)
            assert time.monotonic() - started < 2.0
            status = str(app.query_one("#jobs-status", Static).render())
            assert "2 pending" in status
    finally:
        gate.close()


def test_state_filter_shows_only_that_state(single_site: Site) -> None:
    asyncio.run(_state_filter(single_site))


async def _state_filter(site: Site) -> None:
    site.register(manifest("job-1"))
    site.register(manifest("job-2", study="cox-ph"))
    site.desk.reject("job-2", "dr.hansen", "duplicate study")
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 2)
        assert job_rows(app) == ["job-1", "job-2"]  # pending first
        await pilot.press("f")  # pending only
        await until(pilot, lambda: job_rows(app) == ["job-1"])
        await pilot.press("f", "f")  # approved, then rejected
        await until(pilot, lambda: job_rows(app) == ["job-2"])
        assert site.desk.job("job-2").state is JobState.REJECTED


def test_audit_search_filters_records(single_site: Site) -> None:
    asyncio.run(_audit_search(single_site))


async def _audit_search(site: Site) -> None:
    site.register(manifest("job-1"))
    site.register(manifest("job-2", study="cox-ph"))
    site.desk.reject("job-2", "dr.hansen", "duplicate study")
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        table = app.query_one("#audit-table", DataTable)
        await until(pilot, lambda: table.row_count == 3)
        assert "chain verified: 3 records" in str(app.query_one("#audit-chain", Static).render())
        await pilot.press("slash")
        assert app.focused is app.query_one("#audit-search", Input)
        await type_text(pilot, "rejected")
        await until(pilot, lambda: table.row_count == 1)
        assert "job:rejected" in str(table.get_row_at(0)[2])


def test_a_tampered_chain_is_shown_and_its_export_fails_in_the_error_dialog(single_site: Site) -> None:
    asyncio.run(_tampered_chain(single_site))


async def _tampered_chain(site: Site) -> None:
    site.register(manifest("job-1"))
    site.register(manifest("job-2", study="cox-ph"))
    with sqlite3.connect(site.settings.state_db_path) as db:  # an insider edits a record behind the service's back
        db.execute("UPDATE audit_record SET actor = 'someone-else' WHERE seq = 1")
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        chain = app.query_one("#audit-chain", Static)
        await until(pilot, lambda: "CHAIN BROKEN" in str(chain.render()))
        assert "at record 1" in str(chain.render())
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        dialog = app.screen
        assert isinstance(dialog, ErrorDialog)
        assert dialog.error_title == "AuditChainError"
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorDialog)
    assert not list((site.home / "exports").glob("*.jsonl"))


def test_export_writes_a_verified_jsonl(single_site: Site) -> None:
    asyncio.run(_export(single_site))


async def _export(site: Site) -> None:
    site.register(manifest("job-1"))
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.press("e")
        exports = site.home / "exports"
        await until(pilot, lambda: any(exports.glob("audit-*.jsonl")))
    (path,) = exports.glob("audit-*.jsonl")
    assert path.name == "audit-20261127T120000Z.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert '"type":"record"' in lines[0] and '"type":"audit-head"' in lines[-1]


def test_submitter_chosen_names_are_shown_as_text_not_markup(single_site: Site) -> None:
    asyncio.run(_names_are_text(single_site))


async def _names_are_text(site: Site) -> None:
    site.register(manifest("job-[b]1", study="[red]study[/"))
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        assert str(app.query_one("#jobs-table", DataTable).get_row_at(0)[2]) == "[red]study[/"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobReviewScreen))
        title = str(app.screen.query_one("#review-title", Static).render())
        assert "job-[b]1" in title and "study [red]study[/" in title


def test_a_fresh_site_without_policy_or_jobs_opens(fednode_home: Path) -> None:
    settings = Settings(home=fednode_home)
    desk = SiteDesk.from_settings(settings)
    try:
        asyncio.run(_fresh_site(settings, desk))
    finally:
        desk.close()


async def _fresh_site(settings: Settings, desk: SiteDesk) -> None:
    app = make_app(settings, desk)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one("#jobs-status", Static)
        await until(pilot, lambda: "0 pending" in str(status.render()))
        await pilot.press("5")
        pane = app.query_one(PolicyPane)
        await until(pilot, lambda: pane.report is not None)
        assert pane.report is not None and pane.report.problems == ("policy.yaml: no site policy (nobody can approve)",)
        await pilot.press("3")
        data = app.query_one(DataPane)
        await until(pilot, lambda: data.report is not None)
        assert data.report is not None and data.report.row_counts == {} and data.report.dq is None
