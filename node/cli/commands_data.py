"""`fednode etl` and `fednode dq`: site data into the OMOP CDM, and the data-quality gate."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console


def _write_report(cli: CliContext, name: str, payload: dict[str, Any]) -> Path:
    """The latest run report for the dashboard (counts only): :class:`node.site.reports.ReportStore`."""
    from node.site.reports import ReportStore

    return ReportStore.for_settings(cli.settings).write(name, payload)


def _progress(cli: CliContext, total: int) -> tuple[Any, Any]:
    from tqdm import tqdm

    bar = tqdm(total=total, file=sys.stderr, disable=cli.json_output or not sys.stderr.isatty(), unit="step")

    def step(message: str) -> None:
        bar.set_description(message)
        bar.update(1)

    return bar, step


def _render_etl(payload: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(title="OMOP CDM load", show_lines=False)
        for column in ("table", "rows", "inserted", "updated", "deleted", "quarantined", "unmapped"):
            table.add_column(column, justify="left" if column == "table" else "right")
        for name, rows in payload["rows"].items():
            change = payload["changes"].get(name, {})
            quarantined = sum(payload["quarantined"].get(name, {}).values())
            unmapped = payload["unmapped"].get(name, {}).get("records", 0)
            table.add_row(
                name,
                str(rows),
                str(change.get("inserted", 0)),
                str(change.get("updated", 0)),
                str(change.get("deleted", 0)),
                str(quarantined),
                str(unmapped),
            )
        console.print(table)
        for name, reasons in payload["quarantined"].items():
            for reason, count in reasons.items():
                console.print(f"quarantined {name}: {reason} x{count}")
        for name, info in payload["unmapped"].items():
            top = ", ".join(f"{code} x{n}" for code, n in list(info["codes"].items())[:5])
            console.print(f"unmapped codes in {name}: {len(info['codes'])} distinct ({top})")
        console.print(f"{payload['changed_total']} rows changed in {payload['seconds']} s; report: {payload['report']}")

    return render


def etl(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Option("--source", help="Synthea v3 CSV folder.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="CDM database URL (default: the site's omop.db).")] = None,
    vocab: Annotated[Path | None, typer.Option("--vocab", help="Athena vocabulary folder to (re)load.")] = None,
    notes: Annotated[
        Path | None, typer.Option("--notes", help="Clinical notes JSONL: de-identified into NOTE, never stored raw.")
    ] = None,
) -> None:
    """Load a Synthea extract (and optionally notes) into the OMOP CDM v5.4."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import ConfigError

        if source is None and notes is None:
            raise ConfigError("give --source DIR and/or --notes FILE")
        db_url = db or cli.settings.omop_db_url
        if db_url.startswith("sqlite:///"):
            Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        payload: dict[str, Any] = {"ok": True}
        if source is not None:
            from omop_etl.db import make_engine
            from omop_etl.stats import has_vocabulary
            from omop_etl.synthea.run import LOAD_ORDER, run_etl

            vocab_dir = vocab
            if vocab_dir is None and not has_vocabulary(db_url):
                vocab_dir = cli.settings.etl.vocab_dir  # first load: the configured (bundled) vocabulary
            engine = make_engine(db_url)
            bar, step = _progress(cli, len(LOAD_ORDER) + 3)
            try:
                report = run_etl(
                    engine,
                    source,
                    vocab_dir=vocab_dir,
                    source_name=cli.settings.site_name,
                    batch_size=cli.settings.etl.batch_size,
                    quarantine_dir=cli.settings.quarantine_dir,
                    progress=step,
                )
            finally:
                bar.close()
                engine.dispose()
            payload = report.to_dict()
        if notes is not None:
            payload["notes"] = _load_notes(cli, notes, db_url)
        payload["report"] = str(_write_report(cli, "etl", payload))
        cli.emit(payload, _render_etl(payload) if source is not None else None)


def _load_notes(cli: CliContext, notes: Path, db_url: str) -> Any:
    """Notes go through de-identification (``node.site.notes``); raw text never reaches the CDM from here."""
    from fednode.errors import ServiceError

    try:  # written by the de-identification side; looked up at run time so this module never needs it
        deidentify_notes_into_cdm = importlib.import_module("node.site.notes").deidentify_notes_into_cdm
    except (ImportError, AttributeError) as exc:
        raise ServiceError(
            "de-identification is not available in this build (node.site.notes); notes were not loaded"
        ) from exc
    result = deidentify_notes_into_cdm(cli.settings, notes, db_url)
    to_dict = getattr(result, "to_dict", None)
    return to_dict() if callable(to_dict) else result


def _render_dq(payload: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(title="Data-quality checks that did not pass")
        for column in ("check", "table", "field", "concept", "violated", "of", "% violated", "threshold %", "status"):
            table.add_column(column)
        for r in payload["checks"]:
            if r["status"] in ("fail", "accepted"):
                table.add_row(
                    r["check"],
                    r["table"],
                    r["field"] or "",
                    r["concept_id"] or "",
                    str(r["violated"]),
                    str(r["denominator"]),
                    f"{r['pct_violated']:.2f}",
                    f"{r['threshold']:g}",
                    r["status"],
                )
        if table.row_count:
            console.print(table)
        s = payload["summary"]
        verdict = "[green]PASSED[/green]" if payload["ok"] else "[red]FAILED[/red]"
        console.print(
            f"data-quality gate {verdict}: {s.get('pass', 0)} passed, {s.get('fail', 0)} failed, "
            f"{s.get('accepted', 0)} accepted, {s.get('not_applicable', 0)} not applicable; report: {payload['report']}"
        )

    return render


def dq(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="CDM database URL (default: the site's omop.db).")] = None,
    accept: Annotated[
        Path | None, typer.Option("--accept", help="Known, explained failures to accept (one check per line).")
    ] = None,
) -> None:
    """Run the data-quality gate (OHDSI DQD check types and thresholds); exit 4 when it fails."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import DataQualityError
        from omop_etl.db import make_engine
        from omop_etl.dq.accept import apply_accepted, read_accepted
        from omop_etl.dq.checks import run_dq
        from omop_etl.dq.spec import load_spec

        db_url = db or cli.settings.omop_db_url
        engine = make_engine(db_url)
        bar, step = _progress(cli, 3)
        try:
            report = run_dq(engine, load_spec(cli.settings.etl.dq_spec_dir), progress=step)
        finally:
            bar.close()
            engine.dispose()
        accept = accept or cli.settings.etl.dq_accept_file
        if accept is not None:
            report = apply_accepted(report, read_accepted(accept))
        payload = report.to_dict()
        payload["report"] = str(_write_report(cli, "dq", payload))
        cli.emit(payload, _render_dq(payload))
        if not report.passed:
            raise typer.Exit(int(DataQualityError.exit_code))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("etl")(etl)
    app.command("dq")(dq)
