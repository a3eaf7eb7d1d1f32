"""The job list: every job at this site with its state, polled from the desk so new ones appear at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from policies.contracts import JobRecord, JobState
from tui.desk import SiteDeskProtocol
from tui.format import STATE_STYLE, approvals, short_when
from tui.workers import ReportsWorkerFailures

FILTERS: tuple[JobState | None, ...] = (None, *JobState)
"""What ``f`` cycles through: all jobs, then each state."""

_ORDER = {
    state: i
    for i, state in enumerate(
        (
            JobState.PENDING,
            JobState.RUNNING,
            JobState.APPROVED,
            JobState.FAILED,
            JobState.REFUSED,
            JobState.REJECTED,
            JobState.FINISHED,
        )
    )
}
"""Order of states in the list: what needs a person first, then what is live, then history."""


COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("state", "state", 8),
    ("job", "job", None),
    ("study", "study", None),
    ("submitter", "submitter", None),
    ("submitted", "submitted", 11),
    ("ok", "ok", 4),
    ("appr", "appr", 4),
)
"""The job table's columns (key, header, width; None: sized to fit). The job id column is as wide as the
longest id (a person types it: never cut); study wraps and submitter is cut with a marker into what is left
(the review shows it whole)."""
DROP_ORDER = ("submitter", "submitted", "ok")
"""Columns given up, in this order, while the others would not fit."""
FLEX_MIN = 12
"""The narrowest a flexible column (study, submitter) gets before it is dropped."""
SCROLLBAR = 2
"""Columns kept free for the table's vertical scrollbar."""


def layout(jobs: Sequence[JobRecord], width: int) -> list[tuple[str, str, int]]:
    """The columns (key, header, content width) that fit ``width`` cells: every job id whole, the wrapping
    columns share what is left, and the least needed columns are dropped first."""
    id_width = max((len(j.job_id) for j in jobs), default=3)
    natural = {
        "study": max((len(j.manifest.study) for j in jobs), default=5),
        "submitter": max((len(j.manifest.submitter) for j in jobs), default=9),
    }
    keys = [key for key, _, _ in COLUMNS]

    def fixed(key: str) -> int:
        size = {k: w for k, _, w in COLUMNS}[key]
        return id_width if key == "job" else size if size is not None else FLEX_MIN

    def spare(keys: list[str]) -> int:
        return width - SCROLLBAR - sum(fixed(k) + 2 for k in keys)  # cell padding: one each side

    for key in DROP_ORDER:
        if spare(keys) >= 0:
            break
        keys.remove(key)
    flex = [k for k in keys if k in natural]
    extra = max(spare(keys), 0)
    widths = dict.fromkeys(flex, FLEX_MIN)
    while extra > 0 and any(widths[k] < natural[k] for k in flex):
        for k in flex:
            if extra > 0 and widths[k] < natural[k]:
                widths[k] += 1
                extra -= 1
    headers = {key: header for key, header, _ in COLUMNS}
    return [(k, headers[k], widths.get(k, fixed(k))) for k in keys]


def _cells(job: JobRecord) -> dict[str, str | Text]:
    return {
        "state": Text(job.state.value, style=STATE_STYLE.get(job.state, "")),
        "job": Text(job.job_id, overflow="fold"),
        "study": Text(job.manifest.study, overflow="fold"),
        "submitter": Text(job.manifest.submitter, no_wrap=True, overflow="ellipsis"),  # not typed: cut, marked
        "submitted": short_when(job.manifest.submitted_at),
        "ok": Text("yes", style="green") if job.verdict.allowed else Text("DENY", style="bold red"),
        "appr": approvals(job),
    }


def _fingerprint(jobs: Sequence[JobRecord]) -> tuple[tuple[str, str, int, datetime], ...]:
    return tuple((j.job_id, j.state.value, len(j.approvals), j.updated_at) for j in jobs)


class JobsPane(ReportsWorkerFailures, Vertical):
    """A table of jobs (pending first); Enter opens the review of the job under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "cycle_filter", "Filter", id="jobs.filter"),
        Binding("ctrl+r", "reload", "Reload", id="jobs.reload"),
    ]

    state_filter: reactive[JobState | None] = reactive(None)
    """Show only jobs in this state (None: all)."""

    class Loaded(Message):
        """The desk were polled: ``jobs`` is a fresh list, or None when nothing changed since the last one."""

        def __init__(self, revision: int, jobs: Sequence[JobRecord] | None) -> None:
            super().__init__()
            self.revision = revision
            self.jobs = jobs

    class Open(Message):
        """The user asked to review ``record``."""

        def __init__(self, record: JobRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(
        self,
        desk: SiteDeskProtocol,
        *,
        refresh_s: float,
        clock: Callable[[], datetime],
        id: str | None = None,  # Textual's name
    ) -> None:
        super().__init__(id=id)
        self.desk = desk
        self.refresh_s = refresh_s
        self.clock = clock
        self.jobs: list[JobRecord] = []
        self.revision: int | None = None
        self._shown: tuple[tuple[str, str, int, datetime], ...] | None = None
        self._layout: list[tuple[str, str, int]] = []

    def compose(self) -> ComposeResult:
        yield Static("Loading jobs...", id="jobs-status")
        yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.action_reload()
        self.set_interval(self.refresh_s, self.poll)

    def on_resize(self) -> None:
        """Lay the columns out again for the new width."""
        self._shown = None
        self._render_jobs()

    def poll(self) -> None:
        """Ask the desk whether anything changed; re-read the jobs if so."""
        self.reload(self.revision)

    @work(thread=True, exclusive=True, exit_on_error=False, group="jobs")
    def reload(self, known: int | None) -> None:
        """Poll the state revision and read the job list when it moved (the result comes back as :class:`Loaded`)."""
        revision = self.desk.revision()
        jobs = None if revision == known else self.desk.list_jobs()
        self.post_message(self.Loaded(revision, jobs))

    def action_reload(self) -> None:
        """Read the job list now."""
        self.reload(None)

    def action_cycle_filter(self) -> None:
        """Show the next state filter."""
        self.state_filter = FILTERS[(FILTERS.index(self.state_filter) + 1) % len(FILTERS)]

    def watch_state_filter(self) -> None:
        self._shown = None
        self._render_jobs()

    @on(Loaded)
    def _jobs_loaded(self, message: Loaded) -> None:
        if message.jobs is not None:
            self.revision = message.revision
            self.jobs = sorted(message.jobs, key=lambda j: (_ORDER[j.state], -j.created_at.timestamp(), j.job_id))
        self._render_jobs()

    def shown_jobs(self) -> list[JobRecord]:
        """The jobs the current filter lets through, in display order."""
        return [j for j in self.jobs if self.state_filter is None or j.state is self.state_filter]

    def _render_jobs(self) -> None:
        if not self.is_mounted:
            return
        jobs = self.shown_jobs()
        pending = sum(1 for j in self.jobs if j.state is JobState.PENDING)
        shown = self.state_filter.value if self.state_filter else "all"
        status = "[b red]policy INVALID: nobody can approve (see 5 Policy)[/]\n" if self.desk.policy_problem else ""
        self.query_one("#jobs-status", Static).update(
            f"{status}[b]{pending} pending[/b] · {len(self.jobs)} jobs · showing {shown} (f) · "
            f"updated {self.clock().strftime('%H:%M:%S')}Z"
        )
        fingerprint = _fingerprint(jobs)
        if fingerprint == self._shown:
            return
        self._shown = fingerprint
        table: DataTable[str | Text] = self.query_one("#jobs-table", DataTable)
        selected = self._cursor_job_id(table)
        self._layout = layout(self.jobs, table.size.width or self.app.size.width)
        table.clear(columns=True)
        for key, label, width in self._layout:
            table.add_column(label, key=key, width=width)
        for job in jobs:
            cells = _cells(job)
            table.add_row(*(cells[key] for key, _, _ in self._layout), key=job.job_id, height=None)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))

    @staticmethod
    def _cursor_job_id(table: DataTable[str | Text]) -> str | None:
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value

    @on(DataTable.RowSelected, "#jobs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        record = next((j for j in self.jobs if j.job_id == event.row_key.value), None)
        if record is not None:
            self.post_message(self.Open(record))
