"""`fednode etl` and `fednode dq`: site data into the OMOP CDM, and the data-quality gate.

Both check every input (the ``--db`` URL, folders, files) before they touch a database, and never create one
by mistake: a failed ``etl`` on a new SQLite file removes it again, ``dq`` before ``etl`` says so.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from node.cli._audit import require_site
from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

DB_HELP = "CDM database URL, sqlite:///PATH or postgresql://USER@HOST/DB (default: the site's omop.db)."
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _write_report(cli: CliContext, name: str, payload: dict[str, Any]) -> Path:
    """The latest run report for the dashboard (counts only): :class:`node.site.reports.ReportStore`."""
    from node.site.reports import ReportStore

    return ReportStore.for_settings(cli.settings).write(name, payload)


def _progress(total: int, stream: IO[str] | None = None) -> tuple[Any, Callable[[str], None]]:
    """A progress bar on stderr (never stdout, so ``--json`` output stays one object), shown on a terminal only."""
    from tqdm import tqdm

    out = stream or sys.stderr
    bar = tqdm(total=total, file=out, disable=not out.isatty(), unit="step", leave=False)

    def step(message: str) -> None:
        bar.set_description(message)
        bar.update(1)

    return bar, step


def _db_url(cli: CliContext, db: str | None) -> str:
    """The CDM URL to use, checked (``--db`` or the ``omop_db_url`` setting)."""
    from omop_etl.db import parse_db_url

    url = db or cli.settings.omop_db_url
    parse_db_url(url, option="--db" if db else "omop_db_url")
    return url


def _open(url: str) -> Engine:
    """An engine for ``url``; a server that cannot be reached is a ServiceError now, not a traceback later."""
    from omop_etl.db import check_reachable, make_engine, sqlite_file

    engine = make_engine(url)
    if sqlite_file(url) is None:
        try:
            check_reachable(engine)
        except Exception:
            engine.dispose()
            raise
    return engine


@contextmanager
def _database_errors(engine: Engine) -> Iterator[None]:
    """A database failure mid-run becomes one ``--db: ...`` ServiceError line (password masked)."""
    from sqlalchemy.exc import SQLAlchemyError

    from fednode.errors import BadInputError, ServiceError
    from omop_etl.db import database_error_message

    try:
        yield
    except SQLAlchemyError as exc:
        if engine.dialect.name == "sqlite" and "not a database" in str(getattr(exc, "orig", exc)):
            raise BadInputError("not a SQLite database", file=f"--db: {engine.url.database}") from None
        raise ServiceError(database_error_message(engine, exc)) from None


@contextmanager
def _removed_on_failure(url: str) -> Iterator[None]:
    """Make the SQLite file's folder; the file and folders this command creates are removed again when it fails
    (a failure creates nothing)."""
    from omop_etl.db import sqlite_file

    path = sqlite_file(url)
    if path is None or path.exists():
        yield
        return
    made = [p for p in path.parents if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for candidate in (path, *(path.with_name(path.name + s) for s in _SQLITE_SIDE_FILES)):
            candidate.unlink(missing_ok=True)
        for folder in made:  # innermost first; a folder something else wrote into stays
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _check_notes_file(notes: Path) -> None:
    """Missing, a folder or device, binary or empty: bad input before anything is created (deid's own check)."""
    from deid.checks import check_input

    check_input(notes, what="notes")


def _check_cdm_has_persons(url: str) -> None:
    """``etl --notes`` without ``--source``: the notes need a CDM whose PERSON table they can refer to."""
    from sqlalchemy import func, select

    from fednode.errors import NotFoundError
    from omop_etl.cdm import Person
    from omop_etl.db import cdm_tables, make_engine, masked_url

    tables = cdm_tables(url)
    if tables is None or "person" not in tables:
        raise NotFoundError(
            f"--notes: there is no CDM at {masked_url(url)} yet: load persons first with fednode etl --source DIR"
        )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            persons = int(conn.execute(select(func.count()).select_from(Person)).scalar() or 0)
    finally:
        engine.dispose()
    if persons == 0:
        raise NotFoundError("--notes: the CDM has no persons for the notes to refer to: run fednode etl --source DIR")


def _render_etl(payload: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        from rich import box
        from rich.markup import escape
        from rich.table import Table

        if "rows" in payload:
            table = Table(title="OMOP CDM load", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
            longest = max((len(n) for n in payload["rows"]), default=5)
            table.add_column("table", no_wrap=True, overflow="fold", min_width=longest)
            for column in ("rows", "inserted", "updated", "deleted", "quarantined", "unmapped"):
                table.add_column(column, justify="right", overflow="fold")
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
                    console.print(f"[yellow]warning:[/yellow] quarantined {name}: {reason} x{count}", highlight=False)
            for name, info in payload["unmapped"].items():
                top = ", ".join(f"{code} x{n}" for code, n in list(info["codes"].items())[:5])
                console.print(f"unmapped codes in {name}: {len(info['codes'])} distinct ({top})", highlight=False)
            console.print(f"{payload['changed_total']} rows changed in {payload['seconds']} s", highlight=False)
        if "notes" in payload:
            for line in _notes_lines(payload["notes"]):
                console.print(line, highlight=False)
        console.print(f"report: {escape(str(payload['report']))}", highlight=False, soft_wrap=True)

    return render


def _notes_lines(notes: dict[str, Any]) -> list[str]:
    """The notes part of the ETL summary (Rich markup): loaded, quarantined (with reasons), PHI replaced per label."""
    from rich.markup import escape

    deid, load = notes.get("deid", {}), notes.get("load", {})
    loaded = sum(int(load.get(k, 0)) for k in ("inserted", "updated", "unchanged"))
    lines = [
        f"notes: {deid.get('read', 0)} read, {deid.get('deidentified', 0)} de-identified, {loaded} loaded into NOTE "
        f"({load.get('inserted', 0)} new, {load.get('updated', 0)} updated, {load.get('unchanged', 0)} unchanged), "
        f"{load.get('nlp_rows', 0)} gold spans"
    ]
    quarantined = {**deid.get("quarantined", {}), **load.get("quarantined", {})}
    for reason, count in quarantined.items():
        lines.append(f"[yellow]warning:[/yellow] notes quarantined: {reason} x{count}")
    phi = deid.get("phi", {})
    if phi:
        lines.append("PHI replaced: " + ", ".join(f"{label} {count}" for label, count in phi.items()))
    if notes.get("quarantine_file"):
        lines.append(f"notes quarantine: {escape(str(notes['quarantine_file']))}")
    return lines


def _nothing_loaded(notes: Path, result: dict[str, Any]) -> str | None:
    """Why no note reached the CDM, or None when some did."""
    deid, load = result.get("deid", {}), result.get("load", {})
    if sum(int(load.get(k, 0)) for k in ("inserted", "updated", "unchanged")):
        return None
    if not deid.get("read", 0):
        return "the file holds no notes"
    quarantined = {**deid.get("quarantined", {}), **load.get("quarantined", {})}
    reasons = ", ".join(f"{reason} x{count}" for reason, count in quarantined.items()) or "no reason recorded"
    why = " (no person in the CDM has the notes' person_source_value)" if "unknown_person" in quarantined else ""
    where = f"; quarantine: {result['quarantine_file']}" if result.get("quarantine_file") else ""
    return f"no note was loaded: all {deid['read']} quarantined: {reasons}{why}{where}"


def etl(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Option("--source", metavar="DIR", help="Synthea v3 CSV folder.")] = None,
    db: Annotated[str | None, typer.Option("--db", metavar="URL", help=DB_HELP)] = None,
    vocab: Annotated[
        Path | None, typer.Option("--vocab", metavar="DIR", help="Athena vocabulary folder to (re)load.")
    ] = None,
    notes: Annotated[
        Path | None,
        typer.Option(
            "--notes", metavar="FILE", help="Clinical notes JSONL: de-identified into NOTE, never stored raw."
        ),
    ] = None,
) -> None:
    """Load a Synthea extract (and optionally notes) into the OMOP CDM v5.4."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import ConfigError
        from omop_etl.synthea.sources import check_source_folder
        from omop_etl.vocab import check_vocabulary_folder

        if source is None and notes is None:
            raise ConfigError("give --source DIR and/or --notes FILE")
        if vocab is not None and source is None:
            raise ConfigError("--vocab: a vocabulary is loaded with an extract; give --source DIR too")
        db_url = _db_url(cli, db)
        if source is not None:  # every input is checked before anything is created
            check_source_folder(source)
        if vocab is not None:
            check_vocabulary_folder(vocab)
        if notes is not None:
            _check_notes_file(notes)
            _deidentifier()
            if source is not None:  # the site secret, before the extract is loaded (without one no note loads)
                from deid.checks import check_operator

                check_operator(cli.settings.deid, None, persistent=True)
        engine = _open(db_url)
        records: list[Callable[[], None]] = []  # the audit records, written once the CDM is known to stay
        try:
            with _removed_on_failure(db_url), _database_errors(engine):
                payload = _run_etl(cli, engine, db_url, source, vocab, notes, records)
        finally:
            engine.dispose()
            if _cdm_kept(db_url):  # a failed first load removed omop.db: it processed nothing that stays
                for write in records:
                    write()
        payload["report"] = str(_write_report(cli, "etl", payload))
        cli.emit(payload, _render_etl(payload))


def _run_etl(
    cli: CliContext,
    engine: Engine,
    db_url: str,
    source: Path | None,
    vocab: Path | None,
    notes: Path | None,
    records: list[Callable[[], None]],
) -> dict[str, Any]:
    from fednode.errors import NoteInputError
    from omop_etl.stats import has_vocabulary
    from omop_etl.synthea.run import LOAD_ORDER, run_etl
    from omop_etl.vocab import check_vocabulary_folder

    payload: dict[str, Any] = {"ok": True}
    if source is not None:
        require_site(cli)  # nothing is loaded unrecorded: refused before any data is touched
        vocab_dir = vocab
        if vocab_dir is None and not has_vocabulary(db_url):
            vocab_dir = cli.settings.etl.vocab_dir  # first load: the configured (bundled) vocabulary
            check_vocabulary_folder(vocab_dir)
        bar, step = _progress(len(LOAD_ORDER) + 3)
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
        payload = report.to_dict()
        etl_payload, etl_source = dict(payload), source
        records.append(lambda: _record_etl(cli, etl_payload, etl_source, db_url))
    if notes is not None:
        if source is None:
            _check_cdm_has_persons(db_url)
            require_site(cli)
        result = _load_notes(cli, notes, db_url)
        payload["notes"] = result
        records.append(lambda: _record_notes(cli, result, notes, db_url))
        why = _nothing_loaded(notes, result)
        if why is not None:
            raise NoteInputError(why, file=str(notes))
    return payload


def _cdm_kept(url: str) -> bool:
    """The CDM is still there after the run (a failed first load on SQLite removes the file it made)."""
    from omop_etl.db import sqlite_file

    path = sqlite_file(url)
    return path is None or path.is_file()


def _record_etl(cli: CliContext, payload: dict[str, Any], source: Path, db_url: str) -> None:
    """The ETL load's audit record (source digest, rows per table, quarantined counts: never source values)."""
    from node.cli._audit import record
    from node.site.processing import etl_details
    from policies.audit import AuditEvent

    record(cli, AuditEvent.ETL_LOADED, etl_details(payload, source, db_url))


def _record_notes(cli: CliContext, result: dict[str, Any], notes: Path, db_url: str) -> None:
    """The notes load's audit record (counts per PHI label, operator, secret id: never text)."""
    from node.cli._audit import record
    from node.site.processing import notes_details
    from policies.audit import AuditEvent

    details = notes_details(result, notes, cli.settings.deid, command="etl --notes", db_url=db_url)
    record(cli, AuditEvent.NOTES_LOADED, details)


def _deidentifier() -> Callable[..., Any]:
    """``node.site.notes.deidentify_notes_into_cdm``, looked up at run time so this module never needs it."""
    from fednode.errors import ServiceError

    try:
        return importlib.import_module("node.site.notes").deidentify_notes_into_cdm  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ServiceError(
            "de-identification is not available in this build (node.site.notes); notes were not loaded"
        ) from exc


def _load_notes(cli: CliContext, notes: Path, db_url: str) -> dict[str, Any]:
    """Notes go through de-identification (``node.site.notes``); raw text never reaches the CDM from here."""
    result = _deidentifier()(cli.settings, notes, db_url)
    to_dict = getattr(result, "to_dict", None)
    out = to_dict() if callable(to_dict) else result
    return dict(out)


def _where(r: dict[str, Any]) -> str:
    """A check's place as an accept-file line writes it: ``table[.field][@concept]``."""
    where = str(r["table"]) + (f".{r['field']}" if r["field"] else "")
    return where + (f"@{r['concept_id']}" if r["concept_id"] else "")


def _render_dq(payload: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        from rich import box
        from rich.markup import escape
        from rich.table import Table
        from rich.text import Text

        shown = [r for r in payload["checks"] if r["status"] in ("fail", "accepted")]
        if shown:
            table = Table(
                title="Data-quality checks that did not pass",
                box=box.SIMPLE_HEAD,
                pad_edge=False,
                collapse_padding=True,
            )
            longest = max(len(r["check"]) for r in shown)
            # the check and where it is, as an accept-file line names them: folded, never cut
            table.add_column("check / table.field@concept", overflow="fold", min_width=min(longest, 40), ratio=1)
            table.add_column("violated", justify="right", no_wrap=True)
            table.add_column("% (limit)", justify="right", no_wrap=True)
            table.add_column("status", no_wrap=True)
            for r in shown:
                cell = Text(r["check"], style="bold")
                cell.append("\n" + _where(r))
                if r.get("note"):
                    cell.append("\n" + r["note"], style="dim")
                table.add_row(
                    cell,
                    f"{r['violated']}/{r['denominator']}",
                    f"{r['pct_violated']:.2f} ({r['threshold']:g})",
                    Text(r["status"], style="red" if r["status"] == "fail" else "yellow"),
                )
            console.print(table)
        for name in payload.get("empty_tables", []):
            console.print(f"[red]{name} is empty[/red]: a CDM without data cannot pass; load it with fednode etl")
        s = payload["summary"]
        verdict = "[green]PASSED[/green]" if payload["ok"] else "[red]FAILED[/red]"
        console.print(
            f"data-quality gate {verdict}: {s.get('pass', 0)} passed, {s.get('fail', 0)} failed, "
            f"{s.get('accepted', 0)} accepted, {s.get('not_applicable', 0)} not applicable"
        )
        console.print(f"report: {escape(str(payload['report']))}", highlight=False, soft_wrap=True)

    return render


def _check_cdm_file(url: str) -> None:
    """``dq`` before ``etl`` on SQLite: no database file (checked before an engine would create one)."""
    from fednode.errors import NotFoundError
    from omop_etl.db import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise NotFoundError(f"--db: no CDM at {path}: run fednode etl first")


def _check_cdm_schema(url: str, engine: Engine) -> None:
    """``dq`` before ``etl``: a database without the CDM's tables."""
    from sqlalchemy import inspect

    from fednode.errors import NotFoundError
    from omop_etl.db import masked_url

    missing = [t for t in ("person", "observation_period", "concept") if t not in inspect(engine).get_table_names()]
    if missing:
        raise NotFoundError(
            f"--db: the database at {masked_url(url)} holds no OMOP CDM (no {missing[0]} table): run fednode etl first"
        )


def dq(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", metavar="URL", help=DB_HELP)] = None,
    accept: Annotated[
        Path | None,
        typer.Option("--accept", metavar="FILE", help="Known, explained failures to accept (one check per line)."),
    ] = None,
) -> None:
    """Run the data-quality gate (OHDSI DQD check types and thresholds); exit 4 when it fails."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import DataQualityError
        from omop_etl.dq.accept import apply_accepted, read_accepted
        from omop_etl.dq.checks import run_dq
        from omop_etl.dq.spec import load_spec
        from omop_etl.dq.table_checks import NOT_EMPTY

        db_url = _db_url(cli, db)
        accept = accept or cli.settings.etl.dq_accept_file
        accepted = read_accepted(accept) if accept is not None else None  # inputs first
        spec = load_spec(cli.settings.etl.dq_spec_dir)
        _check_cdm_file(db_url)
        engine = _open(db_url)
        try:
            with _database_errors(engine):
                _check_cdm_schema(db_url, engine)
                require_site(cli)  # the gate's run is recorded: refused before it reads any data
                bar, step = _progress(3)
                try:
                    report = run_dq(engine, spec, progress=step)
                finally:
                    bar.close()
        finally:
            engine.dispose()
        if accepted is not None:
            report = apply_accepted(report, accepted)
        payload = report.to_dict()
        payload["empty_tables"] = empty = [r.table for r in report.failed if r.check == NOT_EMPTY]
        if not report.passed:
            payload["message"] = f"the data-quality gate failed: {len(report.failed)} checks failed" + (
                f" ({', '.join(empty)} empty: load data with fednode etl)" if empty else ""
            )
        payload["report"] = str(_write_report(cli, "dq", payload))
        from node.cli._audit import record
        from node.site.processing import dq_details
        from policies.audit import AuditEvent

        record(cli, AuditEvent.DQ_RUN, dq_details(payload, db_url, accept))
        cli.emit(payload, _render_dq(payload))
        if not report.passed:
            raise typer.Exit(int(DataQualityError.exit_code))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("etl")(etl)
    app.command("dq")(dq)
