"""The audit log: its chain verified, searchable, exportable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from tui.desk import AuditEntry, ChainStatus, SiteDeskProtocol
from tui.workers import ReportsWorkerFailures


def chain_line(status: ChainStatus) -> Text:
    """One line on the chain's health."""
    if status.ok and status.records and not status.signed_through:
        return Text(f"chain hashes consistent: {status.records} records, NOT SIGNED", style="bold yellow")
    if status.ok:
        return Text(
            f"chain verified: {status.records} records, signed through #{status.signed_through} "
            "(site key on this host)",
            style="bold green",
        )
    return Text(f"CHAIN BROKEN: {status.message}", style="bold red")


def details_text(entry: AuditEntry) -> str:
    """The record's details as ``key=value`` pairs (ids, digests, counts and short reasons only)."""
    pairs = " ".join(f"{k}={v}" for k, v in sorted(entry.details.items()))
    return f"#{entry.seq} {entry.at} {entry.event} by {entry.actor}" + (f": {pairs}" if pairs else "")


def audit_columns(records: Sequence[AuditEntry], width: int) -> list[tuple[str, str, int]]:
    """The audit table's columns (key, header, content width) for ``width`` cells: the job id whole (a person
    searches for it), the event as wide as the longest shown (up to 22); the actor gets what is left (at least 6;
    the detail line below shows the record whole)."""
    job = max(3, *(len(r.job_id or "-") for r in records)) if records else 12
    event = min(max(5, *(len(r.event) for r in records)), 22) if records else 22
    used = (5 + 2) + (16 + 2) + (event + 2) + (job + 2) + 2 + 2  # cell padding, the actor's, the scrollbar
    return [
        ("seq", "seq", 5),
        ("at", "at (UTC)", 16),
        ("event", "event", event),
        ("actor", "actor", max(width - used, 6)),
        ("job", "job", job),
    ]


class AuditPane(ReportsWorkerFailures, Vertical):
    """Records newest first, filtered by the search box; ``v`` re-verifies, ``e`` exports."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", id="audit.search"),
        Binding("v", "verify", "Verify", id="audit.verify"),
        Binding("e", "export", "Export", id="audit.export"),
        Binding("ctrl+r", "refresh_all", "Reload", id="audit.reload"),
    ]

    class RecordsLoaded(Message):
        """Records matching the search."""

        def __init__(self, records: Sequence[AuditEntry]) -> None:
            super().__init__()
            self.records = records

    class Verified(Message):
        """The chain was verified (or exported, which verifies it)."""

        def __init__(self, status: ChainStatus, exported_to: Path | None = None) -> None:
            super().__init__()
            self.status = status
            self.exported_to = exported_to

    def __init__(
        self,
        desk: SiteDeskProtocol,
        *,
        export_dir: Path,
        refresh_s: float,
        clock: Callable[[], datetime],
        id: str | None = None,  # Textual's name
    ) -> None:
        super().__init__(id=id)
        self.desk = desk
        self.export_dir = export_dir
        self.refresh_s = refresh_s
        self.clock = clock
        self.records: list[AuditEntry] = []
        self._newest_seen: int | None = None  # the newest record's seq the list has shown

    def compose(self) -> ComposeResult:
        yield Static("verifying the chain...", id="audit-chain")
        yield Input(placeholder="search actor, event, job, details  (/)", id="audit-search")
        table: DataTable[str | Text] = DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        for key, label, width in audit_columns([], 80):
            table.add_column(label, key=key, width=width)
        yield table
        yield Static("", id="audit-detail", markup=False)

    def on_mount(self) -> None:
        self.action_verify()
        self.action_reload()
        self.set_interval(self.refresh_s * 2, self._tick)

    def _tick(self) -> None:
        """Poll while the tab is shown (a hidden tab catches up within one interval when shown)."""
        if self.is_on_screen:
            self.action_reload()

    def action_reload(self) -> None:
        """Read the records matching the search box."""
        self.load(self.query_one("#audit-search", Input).value.strip() or None)

    def action_refresh_all(self) -> None:
        """Verify the chain and read the records again."""
        self.action_verify()
        self.action_reload()

    def action_focus_search(self) -> None:
        """Put the cursor in the search box."""
        self.query_one("#audit-search", Input).focus()

    def action_verify(self) -> None:
        """Verify the whole chain now."""
        self.query_one("#audit-chain", Static).update("verifying the chain...")
        self.verify()

    def action_export(self) -> None:
        """Export the log (verified on the way) to ``export_dir``."""
        stamp = self.clock().strftime("%Y%m%dT%H%M%SZ")
        self.export(self.export_dir / f"audit-{stamp}.jsonl")

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit-records")
    def load(self, search: str | None) -> None:
        """Read matching records (newest first)."""
        self.post_message(self.RecordsLoaded(self.desk.audit_records(search=search)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit-verify")
    def verify(self) -> None:
        """Verify the chain."""
        self.post_message(self.Verified(self.desk.verify_audit()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit-export")
    def export(self, destination: Path) -> None:
        """Export and verify."""
        self.post_message(self.Verified(self.desk.export_audit(destination), exported_to=destination))

    @on(Input.Changed, "#audit-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.load(event.value.strip() or None)

    @on(Input.Submitted, "#audit-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#audit-table", DataTable).focus()

    @on(RecordsLoaded)
    def _records_loaded(self, message: RecordsLoaded) -> None:
        fresh = list(message.records)
        if [(r.seq, r.event) for r in fresh] == [(r.seq, r.event) for r in self.records]:
            return
        newest = fresh[0].seq if fresh else None
        if newest is not None and (self._newest_seen is None or newest > self._newest_seen):
            if self._newest_seen is not None:  # records arrived: the header's count follows the list
                self.action_verify()
            self._newest_seen = newest
        self.records = fresh
        table: DataTable[str | Text] = self.query_one("#audit-table", DataTable)
        table.clear(columns=True)
        for key, label, width in audit_columns(fresh, table.size.width or self.app.size.width):
            table.add_column(label, key=key, width=width)
        for r in fresh:
            style = "red" if r.event.endswith(("refused", "rejected", "blocked", "mismatch")) else ""
            at = r.at[:16].replace("T", " ")
            table.add_row(
                str(r.seq), at, Text(r.event, style=style), Text(r.actor), Text(r.job_id or "-"), key=str(r.seq)
            )
        self._show_detail()

    @on(Verified)
    def _verified(self, message: Verified) -> None:
        self.query_one("#audit-chain", Static).update(chain_line(message.status))
        if message.exported_to is not None:
            self.notify(
                f"Exported {message.status.records} records to {message.exported_to}",
                title="Audit export",
                markup=False,
            )

    @on(DataTable.RowHighlighted, "#audit-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        table: DataTable[str | Text] = self.query_one("#audit-table", DataTable)
        if table.row_count == 0:
            self.query_one("#audit-detail", Static).update("no records")
            return
        index = min(table.cursor_row, len(self.records) - 1)
        self.query_one("#audit-detail", Static).update(details_text(self.records[index]))
