"""The site's data at a glance: the data-quality gate (failed and accepted checks), de-identification counts by
kind of PHI, and the last ETL run over the CDM's row counts.

Only counts, names and outcomes are shown: the reports the CLI writes hold no PHI, and this view adds none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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

from deid.labels import label_title
from policies.audit._processing import ProcessingEntry
from tui.desk import DataReport, SiteDeskProtocol
from tui.workers import ReportsWorkerFailures

MAX_CHECKS = 40
"""Failed or accepted checks listed one by one; more are counted (``fednode dq`` lists them all)."""
MAX_TABLES_QUARANTINED = 8
"""Quarantine reasons listed per run; more are counted."""


def _n(value: Any) -> str:
    """A count for people: ``1,234``; anything that is not a number as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _map(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else empty (a report from another version must not break the view)."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """``value`` when it is a list, else empty."""
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    """``value`` as a count (0 when it is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _total(counts: Mapping[str, Any]) -> int:
    return sum(_int(n) for n in counts.values())


def _when(stamp: Any) -> str:
    """An ISO timestamp to the minute, ``2026-11-27 12:00Z`` (as it is when it does not parse)."""
    try:
        return datetime.fromisoformat(str(stamp)).astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
    except ValueError:
        return str(stamp)


def _title(text: str, style: str = "bold") -> Text:
    return Text(text, style=style)


def _where(check: Mapping[str, Any]) -> str:
    """A check's place as an accept-file line names it: ``table[.field][@concept]``."""
    where = str(check.get("table", "?")) + (f".{check['field']}" if check.get("field") else "")
    return where + (f"@{check['concept_id']}" if check.get("concept_id") else "")


def _checks_table(title: str, checks: Sequence[Mapping[str, Any]], style: str) -> RenderableType:
    """Checks with their place, violations and limit; the check and place (an accept-file line) fold, never cut."""
    table = Table(title=Text(title, style=style), title_justify="left", box=None, expand=True, padding=(0, 1))
    table.add_column("check / table.field@concept", overflow="fold", ratio=1)
    table.add_column("violated", justify="right", no_wrap=True)
    table.add_column("% (limit)", justify="right", no_wrap=True)
    for check in checks[:MAX_CHECKS]:
        cell = Text(str(check.get("check", "?")), style="bold")
        cell.append(" " + _where(check))
        if check.get("note"):
            cell.append("\n" + str(check["note"]), style="dim")
        pct, limit = check.get("pct_violated"), check.get("threshold")
        share = f"{pct:.2f} ({limit:g})" if isinstance(pct, int | float) and isinstance(limit, int | float) else "-"
        table.add_row(cell, f"{_n(check.get('violated', '?'))}/{_n(check.get('denominator', '?'))}", share)
    if len(checks) > MAX_CHECKS:
        table.add_row(Text(f"and {len(checks) - MAX_CHECKS} more (fednode dq lists them all)", style="dim"), "", "")
    return table


def render_dq(report: Mapping[str, Any] | None) -> RenderableType:
    """The data-quality gate: its verdict and counts, every failed check, every accepted one with its reason."""
    if report is None:
        return Text("Data-quality gate: no report yet (run `fednode dq`).", style="yellow")
    summary = _map(report.get("summary"))
    passed = bool(report.get("ok"))
    head = _title("Data-quality gate: ")
    head.append("PASSED" if passed else "FAILED", style="bold green" if passed else "bold red")
    head.append(
        f" · {_n(summary.get('pass', 0))} passed · {_n(summary.get('fail', 0))} failed · "
        f"{_n(summary.get('accepted', 0))} accepted · {_n(summary.get('not_applicable', 0))} not applicable"
    )
    parts: list[RenderableType] = [head]
    for table in _list(report.get("empty_tables")):
        parts.append(Text(f"{table} is empty: a CDM without data cannot pass (fednode etl)", style="red"))
    checks = [c for c in _list(report.get("checks")) if isinstance(c, Mapping)]
    failed = [c for c in _list(report.get("failed")) if isinstance(c, Mapping)]
    accepted = [c for c in checks if c.get("status") == "accepted"]
    if failed:
        parts.append(_checks_table(f"Failed checks ({len(failed)})", failed, "bold red"))
    if accepted:
        parts.append(_checks_table(f"Accepted failures ({len(accepted)}), with the reason", accepted, "bold yellow"))
    return Group(*parts)


def _counts_table(title: str, rows: Sequence[tuple[str, Any]]) -> Table:
    table = Table(title=Text(title), title_justify="left", show_header=False, box=None, padding=(0, 1))
    table.add_column("what", overflow="fold")
    table.add_column("count", justify="right", no_wrap=True)
    for what, count in rows:
        table.add_row(Text(what), _n(count))
    return table


def render_deid(report: Mapping[str, Any] | None, source: str | None = None) -> RenderableType:
    """De-identification: notes read, de-identified, loaded and quarantined, and the PHI replaced, by kind."""
    if report is None:
        return Text(
            "De-identification: no report yet (run `fednode deid run` or `fednode etl --notes`).", style="yellow"
        )
    deid = _map(report.get("deid", report))
    load = _map(report.get("load"))
    head = _title("De-identification")
    head.append(f" · last run: {source or 'fednode deid run'}", style="")
    if report.get("operator"):
        head.append(f" · operator {report['operator']}", style="")
    rows: list[tuple[str, Any]] = [
        ("notes read", deid.get("read", 0)),
        ("notes de-identified", deid.get("deidentified", 0)),
    ]
    if load:
        rows.append(("notes loaded into NOTE", sum(_int(load.get(k)) for k in ("inserted", "updated", "unchanged"))))
        rows.append(
            (
                "  new / updated / unchanged",
                " / ".join(_n(_int(load.get(k))) for k in ("inserted", "updated", "unchanged")),
            )
        )
    quarantined = {**_map(deid.get("quarantined")), **_map(load.get("quarantined"))}
    rows.append(("notes quarantined", _total(quarantined)))
    for reason, count in list(quarantined.items())[:MAX_TABLES_QUARANTINED]:
        rows.append((f"  {str(reason).replace('_', ' ')}", count))
    parts: list[RenderableType] = [head, _counts_table("", rows)]
    phi = _map(deid.get("phi"))
    if phi:
        by_kind = sorted(phi.items(), key=lambda item: (-_int(item[1]), item[0]))
        parts.append(
            _counts_table(
                f"PHI replaced ({_n(_total(phi))})",
                [(label_title(str(label)), count) for label, count in by_kind],
            )
        )
    return Group(*parts)


def render_etl(report: Mapping[str, Any] | None, counts: Mapping[str, int]) -> RenderableType:
    """The last ETL run (source, when, rows changed, quarantined, unmapped) over the CDM's live row counts."""
    parts: list[RenderableType] = []
    if report is None:
        parts.append(Text("Last ETL run: no report yet (run `fednode etl`).", style="yellow"))
        changes: Mapping[str, Any] = {}
    else:
        head = _title("Last ETL run")
        facts = [f"source {report['source']}" if report.get("source") else "notes only"]
        if report.get("started_at"):
            facts.append(_when(report["started_at"]))
        if "changed_total" in report:
            facts.append(f"{_n(report['changed_total'])} rows changed in {report.get('seconds', '?')} s")
        head.append(" · " + " · ".join(facts), style="")
        parts.append(head)
        quarantined = _int(report.get("quarantined_total"))
        unmapped = sum(_int(_map(u).get("records")) for u in _map(report.get("unmapped")).values())
        line = Text(f"{_n(quarantined)} source rows quarantined", style="bold red" if quarantined else "")
        line.append(f" · {_n(unmapped)} records with unmapped codes (concept 0)", style="")
        parts.append(line)
        notes = report.get("notes")
        if isinstance(notes, Mapping):
            load = _map(notes.get("load"))
            loaded = sum(_int(load.get(k)) for k in ("inserted", "updated", "unchanged"))
            parts.append(Text(f"notes: {_n(loaded)} loaded into NOTE (de-identification below)"))
        changes = _map(report.get("changes"))
    parts.append(render_row_counts(counts, changes))
    return Group(*parts)


def render_row_counts(counts: Mapping[str, int], changes: Mapping[str, Any] | None = None) -> RenderableType:
    """CDM tables with rows, and what the last ETL run changed in each."""
    if not counts:
        return Text("OMOP CDM: no database yet (run `fednode etl`).", style="yellow")
    changes = changes or {}
    table = Table(title="OMOP CDM tables with rows", title_justify="left", title_style="bold", box=None, padding=(0, 1))
    table.add_column("table", overflow="fold")
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("last ETL: new / updated / removed", justify="right", overflow="fold")
    for name, rows in sorted(counts.items()):
        if rows:
            change = _map(changes.get(name))
            delta = (
                f"{_n(change.get('inserted', 0))} / {_n(change.get('updated', 0))} / {_n(change.get('deleted', 0))}"
                if change
                else "-"
            )
            table.add_row(Text(name), _n(rows), delta)
    empty = sum(1 for rows in counts.values() if not rows)
    if empty:
        table.add_row(Text(f"{empty} other CDM tables are empty", style="dim"), "0", "")
    return table


def render_processing(entries: Sequence[ProcessingEntry]) -> RenderableType:
    """The processing history from the audit log (newest first): when, what and by whom, its counts."""
    if not entries:
        return Group(
            _title("Processing history (audit log)"),
            Text("nothing recorded yet (`fednode site init` first, then etl, deid run, dq)", style="dim"),
        )
    table = Table(title="Processing history (audit log, newest first)", title_justify="left", expand=True)
    table.add_column("when", no_wrap=True, min_width=17)
    table.add_column("what / by", min_width=20, overflow="fold")
    table.add_column("counts", ratio=1, overflow="fold")
    for e in entries:
        table.add_row(_when(e.at), Text(e.what, style="bold") + Text(f"\n{e.actor}", style="dim"), e.summary)
    return table


def render_data(report: DataReport) -> RenderableType:
    """The whole Data view: the DQ gate, de-identification, the last ETL run over the CDM's row counts, and the
    processing history from the audit log."""
    return Group(
        render_dq(report.dq),
        Text(""),
        render_deid(report.deid, report.deid_source),
        Text(""),
        render_etl(report.etl, report.row_counts),
        Text(""),
        render_processing(report.processing),
    )


class DataPane(ReportsWorkerFailures, VerticalScroll, can_focus=True):
    """Counts only, never rows: CDM, DQ and de-identification. Scrolls (arrows, PgUp/PgDn, Home/End)."""

    DEFAULT_CSS = """
    DataPane {
        width: 1fr;
        height: 1fr;
        overflow-y: auto;
        padding: 0 1 0 0;
    }
    """
    """Textual inherits CSS from the first base only (the mixin): VerticalScroll's own rules are restated here."""

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
