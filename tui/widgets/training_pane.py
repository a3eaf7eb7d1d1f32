"""Training progress of one job at this site: rounds done and to go, local metrics, bytes sent, egress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Select, Static

from policies.contracts import EgressDecision, JobRecord, JobState, RoundReport
from tui.card_row import card_row, split_reports
from tui.desk import SiteDeskProtocol
from tui.format import short_when, size
from tui.workers import ReportsWorkerFailures

TRAINED_STATES = (JobState.APPROVED, JobState.RUNNING, JobState.FINISHED, JobState.FAILED)
"""Jobs that may have training rounds to show."""


@dataclass(frozen=True)
class Progress:
    """What the pane shows for one job."""

    record: JobRecord
    rounds: Sequence[RoundReport]
    egress: Sequence[EgressDecision]
    card: RoundReport | None = None
    """This site's cross-site evaluation of the final model (its row of the model card), once there is one."""


def summary(progress: Progress) -> Text:
    """``job-1 running · 3 of 20 rounds done, 17 to go · 1.2 MiB sent · egress 3 allowed, 0 blocked``."""
    planned = progress.record.manifest.rounds
    done = len(progress.rounds)
    sent = sum(r.bytes_sent for r in progress.rounds)
    allowed = sum(1 for e in progress.egress if e.allowed)
    blocked = len(progress.egress) - allowed
    text = Text()
    text.append(progress.record.job_id, style="bold")
    text.append(
        f" {progress.record.state.value} · {done} of {planned} rounds done, {max(planned - done, 0)} to go · "
        f"{size(sent)} sent · egress {allowed} allowed, {blocked} blocked"
    )
    return text


class TrainingPane(ReportsWorkerFailures, Vertical):
    """Pick a job (approved or later); see its rounds and the egress guard's decisions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reload", "Reload", id="training.reload"),
    ]

    class JobsLoaded(Message):
        """The jobs that can have training to show."""

        def __init__(self, jobs: Sequence[JobRecord]) -> None:
            super().__init__()
            self.jobs = jobs

    class ProgressLoaded(Message):
        """Rounds and egress decisions of the selected job."""

        def __init__(self, progress: Progress) -> None:
            super().__init__()
            self.progress = progress

    def __init__(
        self,
        desk: SiteDeskProtocol,
        *,
        refresh_s: float,
        id: str | None = None,  # Textual's name
    ) -> None:
        super().__init__(id=id)
        self.desk = desk
        self.refresh_s = refresh_s
        self.job_ids: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Select[str]([], prompt="job (approved or later)", id="training-job", allow_blank=True)
        yield Static("No job selected.", id="training-summary")
        card = Static("", id="training-card")
        card.display = False  # shown once the site has evaluated the final model (tui/card_row.py)
        yield card
        rounds: DataTable[str | Text] = DataTable(id="training-rounds", cursor_type="row", zebra_stripes=True)
        yield rounds
        egress: DataTable[str | Text] = DataTable(id="training-egress", cursor_type="row")
        egress.add_column("round", key="round", width=5)
        egress.add_column("egress", key="egress", width=7)
        egress.add_column("at", key="at", width=11)
        egress.add_column("reason", key="reason")
        yield egress

    def on_mount(self) -> None:
        self.action_reload()
        self.set_interval(self.refresh_s * 2, self._tick)

    def _tick(self) -> None:
        """Poll while the tab is shown (a hidden tab catches up within one interval when shown)."""
        if self.is_on_screen:
            self.action_reload()

    def action_reload(self) -> None:
        """Read the jobs and the selected job's progress now."""
        self.reload(self._selected())

    @work(thread=True, exclusive=True, exit_on_error=False, group="training")
    def reload(self, selected: str | None) -> None:
        """Read the trainable jobs and, when one is selected, its rounds and egress decisions."""
        jobs = self.desk.list_jobs(TRAINED_STATES)
        self.post_message(self.JobsLoaded(jobs))
        if selected is not None:
            record = self.desk.job(selected)
            rounds, card = split_reports(self.desk.rounds(selected))
            progress = Progress(record, rounds, self.desk.egress(selected), card)
            self.post_message(self.ProgressLoaded(progress))

    def _selected(self) -> str | None:
        value = self.query_one("#training-job", Select).value
        return value if isinstance(value, str) else None

    @on(JobsLoaded)
    def _jobs_loaded(self, message: JobsLoaded) -> None:
        ids = tuple(j.job_id for j in message.jobs)
        if ids == self.job_ids:
            return
        self.job_ids = ids
        select: Select[str] = self.query_one("#training-job", Select)
        current = self._selected()
        select.set_options((Text(f"{j.job_id} ({j.state.value})"), j.job_id) for j in message.jobs)
        if current in ids:
            select.value = current
        elif ids:
            select.value = ids[0]

    @on(Select.Changed, "#training-job")
    def _job_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.reload(event.value)

    @on(ProgressLoaded)
    def _progress_loaded(self, message: ProgressLoaded) -> None:
        progress = message.progress
        if progress.record.job_id != self._selected():
            return
        self.query_one("#training-summary", Static).update(summary(progress))
        card = self.query_one("#training-card", Static)
        card.display = progress.card is not None
        card.update(card_row(progress.card) if progress.card is not None else "")
        self._fill_rounds(progress.rounds)
        egress: DataTable[str | Text] = self.query_one("#training-egress", DataTable)
        egress.clear()
        for e in progress.egress:
            verdict = Text("allowed", style="green") if e.allowed else Text("BLOCKED", style="bold red")
            egress.add_row(str(e.round), verdict, short_when(e.at), Text(e.reason))

    def _fill_rounds(self, rounds: Sequence[RoundReport]) -> None:
        table: DataTable[str | Text] = self.query_one("#training-rounds", DataTable)
        metrics = sorted({name for r in rounds for name in r.metrics})
        table.clear(columns=True)
        table.add_column("round", key="round", width=5)
        for name in metrics:
            table.add_column(name, key=f"m:{name}")
        table.add_column("sent", key="sent", width=9)
        table.add_column("at", key="at", width=11)
        for r in rounds:
            values = [f"{r.metrics[name]:.4g}" if name in r.metrics else "-" for name in metrics]
            table.add_row(str(r.round), *values, size(r.bytes_sent), short_when(r.at))
