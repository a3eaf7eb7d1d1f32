"""The dashboard reads well at 80x24: job ids whole, the Data tab scrollable and summarised, counts in step."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path

from rich.console import Console, RenderableType
from textual.widgets import DataTable, Static

from node.site.desk import SiteDesk
from tests.tui.pilotkit import jobs_loaded, until
from tests.tui.sitekit import ETL_REPORT, Site, manifest, open_site, populate
from tui import make_app
from tui.app import FednodeApp
from tui.widgets.data_pane import DataPane, render_deid

SIZE = (80, 24)
LONG_IDS = ("job-clean-0001-aaaa-bbbb-cccc", "job-clean-0002-aaaa-bbbb-cccc")


def rendered_lines(app: FednodeApp, selector: str) -> list[str]:
    """What a widget shows, line by line, as plain text."""
    widget = app.query_one(selector)
    return [widget.render_line(y).text for y in range(widget.size.height)]


def test_two_long_similar_job_ids_are_shown_whole_at_80_columns(single_site: Site) -> None:
    for job_id in LONG_IDS:
        single_site.register(manifest(job_id, study="readmission-risk-cohort-2026"))
    asyncio.run(_long_ids(single_site))


async def _long_ids(site: Site) -> None:
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 2)
        await pilot.pause(0.1)
        lines = rendered_lines(app, "#jobs-table")
        for job_id in LONG_IDS:
            assert any(job_id in line for line in lines), lines
        assert any(LONG_IDS[0] in line and "readmission" in line for line in lines), lines  # the study beside it
        table = app.query_one("#jobs-table", DataTable)
        assert {str(c.label) for c in table.columns.values()} >= {"state", "job", "study", "appr"}
        await pilot.press("4")  # the audit log names them whole too
        audit = app.query_one("#audit-table", DataTable)
        await until(pilot, lambda: audit.row_count == 2)
        await pilot.pause(0.1)
        lines = rendered_lines(app, "#audit-table")
        for job_id in LONG_IDS:
            assert any(job_id in line for line in lines), lines


def screen_text(app: FednodeApp) -> str:
    """The whole screen as plain text, as a person sees it now."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_the_data_tab_scrolls_to_the_last_etl_run_at_80x24(fednode_home: Path) -> None:
    site = open_site(fednode_home)
    try:
        populate(site)
        asyncio.run(_data_scrolls(site))
    finally:
        site.desk.close()


async def _data_scrolls(site: Site) -> None:
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 4)
        await pilot.press("3")
        pane = app.query_one(DataPane)
        await until(pilot, lambda: pane.report is not None)
        await pilot.pause(0.1)
        top = screen_text(app)
        assert "plausibleValueLow" in top and "plausibleValueHigh" in top  # failed and accepted checks
        assert "Last ETL run" not in top  # below the fold at 24 lines...
        await pilot.press("end")
        await until(pilot, lambda: "Last ETL run" in screen_text(app))  # ...and reachable
        bottom = screen_text(app)
        assert "source synthea-sample" in bottom and "person" in bottom and "1,200" in bottom


def test_deid_counts_come_from_etl_notes_when_it_ran_last(fednode_home: Path) -> None:
    site = open_site(fednode_home)
    try:
        populate(site)
        reports = site.home / "reports"
        notes = {"ok": True, "deid": {"read": 7, "deidentified": 7, "quarantined": {}, "phi": {"EMAIL": 3}}}
        (reports / "etl-latest.json").write_text(json.dumps({**ETL_REPORT, "notes": notes}), encoding="utf-8")
        data = site.desk.data()
        assert data.deid_source == "fednode etl --notes" and data.deid is not None
        out = _plain(render_deid(data.deid, data.deid_source))
        assert "e-mail addresses" in out and "fednode etl --notes" in out
        later = (reports / "etl-latest.json").stat().st_mtime + 60
        os.utime(reports / "deid-latest.json", (later, later))  # then `deid run` ran
        assert site.desk.data().deid_source == "fednode deid run"
    finally:
        site.desk.close()


def _plain(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=80, color_system=None).print(renderable)
    return buffer.getvalue()


def test_the_audit_header_counts_what_the_list_shows_after_new_records(single_site: Site) -> None:
    single_site.register(manifest("job-1"))
    asyncio.run(_audit_count(single_site))


async def _audit_count(site: Site) -> None:
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        table = app.query_one("#audit-table", DataTable)
        chain = app.query_one("#audit-chain", Static)
        await until(pilot, lambda: table.row_count == 1 and "1 records" in str(chain.render()))
        gate = SiteDesk.from_settings(site.settings, clock=site.clock)  # another process writes
        try:
            gate.reject("job-1", "dr.hansen", "duplicate study")
        finally:
            gate.close()
        await until(pilot, lambda: table.row_count == 2, timeout=10)
        await until(pilot, lambda: "2 records" in str(chain.render()), timeout=10)
