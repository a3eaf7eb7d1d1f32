"""Pilot helpers for the dashboard tests (not a test module)."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tui.app import FednodeApp


async def until(pilot: Pilot[None], predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Type ``text`` key by key, as a person would."""
    await pilot.press(*text)


def job_rows(app: FednodeApp) -> list[str]:
    """Job ids in the job table, top to bottom."""
    table: DataTable[object] = app.query_one("#jobs-table", DataTable)
    return [str(key.value) for key in table.rows]


async def jobs_loaded(pilot: Pilot[None], count: int) -> None:
    """Wait until the job table shows ``count`` jobs."""
    app = pilot.app
    assert isinstance(app, FednodeApp)
    await until(pilot, lambda: len(job_rows(app)) == count)


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the loading workers (not one that awaits an open dialog), let the screen render, stop cursors."""
    busy = [w for w in pilot.app.workers if w.group != "decision" and not w.is_finished]
    for worker in busy:
        await worker.wait()
    await pilot.pause(0.1)
    freeze_cursors(pilot)


def freeze_cursors(pilot: Pilot[None]) -> None:
    """Stop every text cursor blinking on the current screen (stable screenshots)."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
