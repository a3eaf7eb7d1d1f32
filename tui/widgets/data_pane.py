"""The site's data at a glance: CDM row counts, the data-quality gate's result, de-identification statistics.

Only counts, names and outcomes are shown: the reports the CLI writes hold no PHI, and this view adds none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tui.desk import DataReport, SiteDeskProtocol
from tui.workers import ReportsWorkerFailures

MAX_TEXT = 60
"""Longest string value shown from a report (reasons and names; longer ones are cut)."""
MAX_LISTED = 12
"""Lists of records up to this length are shown as tables; longer ones as their count."""


def _cell(value: Any) -> Text:
    if isinstance(value, bool):
        return Text("PASS" if value else "FAIL", style="green" if value else "bold red")
    if isinstance(value, int | float):
        return Text(f"{value:,}" if isinstance(value, int) else f"{value:.4g}")
    if isinstance(value, Mapping):
        return Text(f"{len(value)} entries", style="dim")
    if isinstance(value, Sequence) and not isinstance(value, str):
        return Text(f"{len(value)} items", style="dim")
    text = str(value)
    return Text(text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…")


def _flatten(report: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, prefix=f"{name}."))
        else:
            rows.append((name, value))
    return rows


def render_report(title: str, report: Mapping[str, Any] | None, missing: str) -> RenderableType:
    """A report as a key/value table; lists of records become their own small tables."""
    if report is None:
        return Text(f"{title}: {missing}", style="yellow")
    pairs = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None, expand=True)
    pairs.add_column("key", style="dim", no_wrap=True)
    pairs.add_column("value", ratio=1)
    tables: list[RenderableType] = []
    for key, value in _flatten(report):
        if isinstance(value, list) and 0 < len(value) <= MAX_LISTED and all(isinstance(v, Mapping) for v in value):
            tables.append(_records_table(key, value))
        else:
            pairs.add_row(Text(key), _cell(value))
    return Group(pairs, *tables)


def _records_table(title: str, records: Sequence[Mapping[str, Any]]) -> Table:
    columns: list[str] = []
    for record in records:
        columns.extend(k for k, v in record.items() if k not in columns and not isinstance(v, Mapping | list))
    table = Table(title=Text(title), title_justify="left", box=None, expand=True)
    for column in columns[:6]:
        table.add_column(Text(column), no_wrap=column != columns[0])
    for record in records:
        table.add_row(*(_cell(record[c]) if c in record else Text("-") for c in columns[:6]))
    return table


def render_row_counts(counts: Mapping[str, int]) -> RenderableType:
    """CDM tables with their row counts."""
    if not counts:
        return Text("OMOP CDM: no database yet (run `fednode etl`).", style="yellow")
    table = Table(title="OMOP CDM row counts", title_justify="left", title_style="bold", box=None, expand=True)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in sorted(counts.items()):
        if rows:
            table.add_row(Text(name), f"{rows:,}")
    empty = sum(1 for rows in counts.values() if not rows)
    if empty:
        table.add_row(Text(f"{empty} other CDM tables are empty", style="dim"), "0")
    return table


def render_data(report: DataReport) -> RenderableType:
    """The whole Data view."""
    return Group(
        render_row_counts(report.row_counts),
        Text(""),
        render_report("Data-quality gate", report.dq, "no report yet (run `fednode dq`)."),
        Text(""),
        render_report("De-identification", report.deid, "no report yet (run `fednode deid run`)."),
        Text(""),
        render_report("Last ETL run", report.etl, "no report yet (run `fednode etl`)."),
    )


class DataPane(ReportsWorkerFailures, VerticalScroll, can_focus=True):
    """Counts only, never rows: CDM, DQ and de-identification."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reload", "Reload", id="data.reload"),
    ]

    class Loaded(Message):
        """The data report arrived."""

        def __init__(self, report: DataReport) -> None:
            super().__init__()
            self.report = report

    def __init__(self, desk: SiteDeskProtocol, *, id: str | None = None) -> None:  # Textual's name
        super().__init__(id=id)
        self.desk = desk
        self.report: DataReport | None = None

    def compose(self) -> ComposeResult:
        yield Static("Reading the site's data reports...", id="data-body")

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        """Read the counts and reports again."""
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="data")
    def load(self) -> None:
        """Count CDM rows and read the latest reports."""
        self.post_message(self.Loaded(self.desk.data()))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.report = message.report
        self.query_one("#data-body", Static).update(render_data(message.report))
