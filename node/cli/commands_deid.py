"""`fednode deid detect|run|eval|gold`: de-identification of clinical notes (see the CLI contract in DESIGN.md).

Every command checks its inputs (file present, UTF-8 text, not empty; the site secret and the CDM for a load)
before the de-identifier is built, so a mistake fails at once with exit 4 (2 for configuration), never after
seconds of model loading. A run where notes were quarantined (or lines could not be read) exits 4 with the
counts and the quarantine file, keeping what it did do; one that de-identified or loaded nothing writes nothing
and exits 4 too (docs/deid.md).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fednode.errors import BadInputError, DeidTargetsMissedError, FednodeError, NoteInputError
from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

deid_app = typer.Typer(name="deid", help="De-identify clinical notes (Presidio, offline).", no_args_is_help=True)


def _write_report(cli: CliContext, payload: dict[str, Any]) -> None:
    """The latest run's report for the dashboard (counts and reasons only): :class:`node.site.reports.ReportStore`;
    only in an existing site home."""
    from node.site.reports import ReportStore

    if not cli.settings.home.is_dir():  # file mode outside a site: no home is made for a report
        return
    with contextlib.suppress(OSError):  # a read-only home must not fail the run; the report is also printed
        ReportStore.for_settings(cli.settings).write("deid", payload)


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason} x{n}" for reason, n in sorted(counts.items()))


def _print_labels(console: Console, title: str, counts: dict[str, int]) -> None:
    """A heading line, then a small table: readable label name, label, count (fits 80 columns)."""
    from rich.table import Table

    from deid.labels import label_title

    console.print(title, highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("PHI found", overflow="fold")
    table.add_column("label", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(label_title(label), label, str(n))
    if counts:
        table.add_section()
    table.add_row("total", "", str(sum(counts.values())))
    console.print(table)


def _fail(
    cli: CliContext, payload: dict[str, Any], message: str, render: Any, error: type[FednodeError] = NoteInputError
) -> None:
    """Notes were quarantined, nothing was done or a target was missed: the summary (with ``--json`` the full
    report, ``ok`` false, with the error fields), then ``Error: <message>`` on stderr, and exit 4 (docs/deid.md)."""
    code = int(error.exit_code)
    payload.update(ok=False, error=error.__name__, message=message, exit_code=code)
    cli.emit(payload, render)
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]Error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@deid_app.command("detect")
def detect(
    ctx: typer.Context,
    input_path: Annotated[Path, typer.Option("--input", help="Notes JSONL: {id, text, lang?} per line.")],
    output: Annotated[Path, typer.Option("--output", help="Spans JSONL: {id, spans:[{start,end,label}]}.")],
) -> None:
    """Find PHI spans (character offsets, end exclusive) without changing the text. No site secret needed."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from deid.checks import check_output
        from deid.detect_file import detect_file

        check_output(output)
        started = time.perf_counter()
        counts = detect_file(input_path, output, cli.settings.deid)
        payload = {
            "ok": True,
            "input": str(input_path),
            "output": str(output),
            **counts,
            "seconds": round(time.perf_counter() - started, 3),
        }

        def render(console: Console) -> None:
            _print_labels(console, f"deid detect: {counts['notes']} notes from {input_path.name}", counts["labels"])
            console.print(f"spans written to {output}", highlight=False, soft_wrap=True)

        if counts["errors"]:
            message = (
                f"{input_path}: {counts['errors']} of {counts['notes']} line(s) could not be read "
                f"({_reasons(counts['error_reasons'])}); {output} has an error field for each"
            )
            _fail(cli, payload, message, render)
        cli.emit(payload, render)


def _render_run(payload: dict[str, Any], input_path: Path) -> Any:
    def render(console: Console) -> None:
        deid = payload["deid"]
        _print_labels(console, f"deid run: {deid['read']} notes read from {input_path.name}", deid["phi"])
        console.print(f"de-identified: {deid['deidentified']} of {deid['read']} notes", highlight=False)
        load = payload.get("load")
        if load is not None:
            console.print(
                f"loaded into the CDM: {payload['loaded']} ({load['inserted']} new, {load['updated']} updated, "
                f"{load['unchanged']} unchanged)",
                highlight=False,
            )
        held = dict(deid["quarantined"])
        for reason, n in (load or {}).get("quarantined", {}).items():
            held[reason] = held.get(reason, 0) + n
        if held:
            console.print(
                f"[yellow]Warning:[/yellow] quarantined {sum(held.values())} note(s): {_reasons(held)}",
                highlight=False,
            )
            if payload["quarantine_file"]:
                console.print(f"quarantine file: {payload['quarantine_file']}", highlight=False, soft_wrap=True)
        if payload.get("output"):
            console.print(f"output: {payload['output']}", highlight=False, soft_wrap=True)

    return render


def _record_run(cli: CliContext, payload: dict[str, Any], input_path: Path, db: str | None, *, into_cdm: bool) -> None:
    """The run's audit record: counts per PHI label, operator, secret id, never text. Into the CDM it is
    ``notes:loaded`` (warned about loudly where the home holds no site); into a file ``notes:deidentified``,
    recorded where there is a site."""
    from node.cli._audit import operator_name, record
    from node.site.processing import notes_details, record_processing
    from policies.audit import AuditEvent

    if into_cdm:
        url = db or cli.settings.omop_db_url
        details = notes_details(payload, input_path, cli.settings.deid, command="deid run", db_url=url)
        record(cli, AuditEvent.NOTES_LOADED, details)
        return
    details = notes_details(payload, input_path, cli.settings.deid, command="deid run --output", db_url=None)
    record_processing(cli.settings, AuditEvent.NOTES_DEIDENTIFIED, details, actor=operator_name())


@deid_app.command("run")
def run(
    ctx: typer.Context,
    input_path: Annotated[Path, typer.Option("--input", help="Notes JSONL (see CONTRIBUTING.md).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="File mode: write de-identified notes JSONL here (no CDM, no secret needed)."),
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="CDM database URL (default: the site's omop.db).")] = None,
    operator: Annotated[
        str | None, typer.Option("--operator", help="surrogate (default), tag, redact or hmac.")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Worker processes.")] = None,
) -> None:
    """De-identify notes into the OMOP NOTE/NOTE_NLP tables (needs the site secret), or into a JSONL file with
    --output. Exit 4 when any note was quarantined (listed in a file; the others are kept) or none was done."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        payload: dict[str, Any]
        if output is not None:
            from deid.checks import check_output
            from deid.files import deidentify_file

            check_output(output)

            payload = deidentify_file(input_path, output, cli.settings.deid, operator=operator, workers=workers)
            quarantined = sum(payload["deid"]["quarantined"].values())
        else:
            from node.cli._audit import require_site
            from node.site.notes import check_notes_load, deidentify_notes_into_cdm

            check_notes_load(cli.settings, input_path, db, operator)  # the inputs first, then the site
            require_site(cli)
            payload = deidentify_notes_into_cdm(cli.settings, input_path, db, operator=operator, workers=workers)
            quarantined = payload["quarantined"]
        payload = {"input": str(input_path), **payload}
        _write_report(cli, payload)
        _record_run(cli, payload, input_path, db, into_cdm=output is None)
        if not payload["ok"]:
            reasons = dict(payload["deid"]["quarantined"])
            for reason, n in payload.get("load", {}).get("quarantined", {}).items():
                reasons[reason] = reasons.get(reason, 0) + n
            done = payload["deid"]["deidentified"] if output is not None else payload["loaded"]
            what = "de-identified" if output is not None else "loaded into the CDM"
            if done:
                kept = f"the other {done} were {what}" + (f" ({output})" if output is not None else "")
                message = f"{input_path}: {quarantined} note(s) quarantined ({_reasons(reasons)}); {kept}"
            else:
                detail = f" ({quarantined} quarantined: {_reasons(reasons)})" if reasons else ""
                message = f"{input_path}: no note was {what}{detail}"
            if payload["quarantine_file"]:
                message += f"; reasons per line in {payload['quarantine_file']}"
            elif payload.get("quarantined_lines"):
                message += f" at {payload['quarantined_lines']}; nothing written"
            _fail(cli, payload, message, _render_run(payload, input_path))
        cli.emit(payload, _render_run(payload, input_path))


@deid_app.command("eval")
def evaluate(
    ctx: typer.Context,
    gold: Annotated[
        Path,
        typer.Option("--gold", help="Gold JSONL: {text, lang, phi:[{start,end,label}], distractors?:[{start,end}]}."),
    ],
    output: Annotated[Path | None, typer.Option("--output", help="Also write the full report JSON here.")] = None,
    min_recall: Annotated[float, typer.Option(help="Target entity recall over every label and language.")] = 0.98,
    min_label_recall: Annotated[float, typer.Option(help="Target recall for every label.")] = 0.95,
    min_language_recall: Annotated[float, typer.Option(help="Target recall for every language.")] = 0.95,
    min_precision: Annotated[float, typer.Option(help="Target entity precision over every label.")] = 0.90,
    max_distractors: Annotated[
        float, typer.Option(help="Largest share of the gold set's distractors that may be flagged.")
    ] = 0.05,
    own_label: Annotated[
        bool,
        typer.Option(
            "--own-label", help="A label's recall counts only spans found under that label (default: removed as any)."
        ),
    ] = False,
) -> None:
    """Entity- and character-level P/R/F2 per label and language, and distractors flagged, against a gold set;
    exit 4 when a target is missed."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from deid.checks import check_output
        from deid.evaluate import Targets
        from deid.evaluate_file import evaluate_file

        if output is not None:
            check_output(output)
        targets = Targets(min_recall, min_label_recall, min_language_recall, min_precision, max_distractors, own_label)
        started = time.perf_counter()
        report = evaluate_file(gold)
        failures = report.failures(targets)
        payload = {
            "ok": not failures,
            "gold": str(gold),
            **report.to_dict(),
            "targets": targets.to_dict(),
            "targets_missed": failures,
            "not_checked": report.unchecked(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        if output is not None:
            from deid.files import write_text_atomic

            write_text_atomic(output, json.dumps(payload, indent=2, sort_keys=True))

        def render(console: Console) -> None:
            _render_eval(console, report.notes, payload)

        if failures:
            _fail(cli, payload, f"{gold}: targets missed: {'; '.join(failures)}", render, DeidTargetsMissedError)
        cli.emit(payload, render)


def _render_eval(console: Console, notes: int, payload: dict[str, Any]) -> None:
    """The eval table (every language and label), the distractors and the targets' verdict."""
    from rich.table import Table

    table = Table(title=f"deid eval: {notes} notes (entity P/R/F2, removed under any label, char R)")
    for col in ("lang", "label", "gold", "P", "R", "removed", "F2", "char R"):
        table.add_column(col, no_wrap=col != "label", overflow="fold")
    metrics: dict[str, dict[str, dict[str, Any]]] = payload["metrics"]
    for lang, labels in metrics.items():
        for label, m in labels.items():
            table.add_row(
                lang,
                label,
                str(m["gold"]),
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['removed']:.3f}",
                f"{m['f2']:.3f}",
                f"{m['char_recall']:.3f}",
            )
    console.print(table)
    rates: dict[str, dict[str, Any]] = payload["distractors"]
    if rates:
        per_lang = ", ".join(f"{lang} {r['flagged']}/{r['total']}" for lang, r in rates.items() if lang != "ALL")
        every = rates["ALL"]
        console.print(f"distractors flagged: {every['flagged']}/{every['total']} ({every['rate']:.1%}; {per_lang})")
    for what in payload["not_checked"]:
        console.print(f"[yellow]not checked:[/yellow] {what}")
    failures: list[str] = payload["targets_missed"]
    console.print("targets met" if not failures else f"[red]targets missed:[/red] {'; '.join(failures)}")


@deid_app.command("gold")
def gold_set(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="New or empty folder for dev.jsonl and test.jsonl.")],
    dev: Annotated[int, typer.Option(min=1, help="Notes in the dev (tuning) split.")] = 600,
    test: Annotated[int, typer.Option(min=1, help="Notes in the held-out test split.")] = 600,
    seed: Annotated[int, typer.Option(help="Seed of the dev split; test uses seed + 101.")] = 101,
    force: Annotated[
        bool, typer.Option("--force", help="Replace dev.jsonl and test.jsonl in a non-empty --out.")
    ] = False,
) -> None:
    """Generate the synthetic gold set (dev: template group A; held-out test: template group B, another seed).
    The defaults reproduce the bundled data/deid-gold byte for byte."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from deid.files import write_text_atomic

        if out.exists() and not out.is_dir():
            raise BadInputError("exists and is not a folder", file=str(out))
        if out.is_dir() and any(out.iterdir()) and not force:
            raise BadInputError(
                "folder is not empty; nothing written (choose a new folder, or --force to replace its "
                "dev.jsonl and test.jsonl)",
                file=str(out),
            )
        from deid.synthetic import Split, generate  # imports the recognizers (Presidio): after the checks

        written: dict[str, dict[str, Any]] = {}
        splits: tuple[tuple[Split, int, int], ...] = (("dev", dev, seed), ("test", test, seed + 101))
        labels: dict[str, int] = {}
        rendered: dict[str, str] = {}
        for split, n, split_seed in splits:
            notes = generate(split, n, split_seed)
            rendered[split] = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in notes)
            phi = 0
            for note in notes:
                spans = note["phi"]
                for span in spans if isinstance(spans, list) else []:
                    phi += 1
                    labels[str(span["label"])] = labels.get(str(span["label"]), 0) + 1
            written[split] = {"path": str(out / f"{split}.jsonl"), "notes": len(notes), "phi": phi}
        for name, text in rendered.items():  # generated first, written last: a failure leaves no half set
            write_text_atomic(out / f"{name}.jsonl", text)
        payload = {"ok": True, "out": str(out), "splits": written, "labels": dict(sorted(labels.items()))}

        def render(console: Console) -> None:
            _print_labels(console, f"deid gold: synthetic notes with gold PHI spans in {out}", labels)
            for split, info in written.items():
                console.print(
                    f"{split}: {info['notes']} notes, {info['phi']} PHI spans -> {info['path']}",
                    highlight=False,
                    soft_wrap=True,
                )

        cli.emit(payload, render)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(deid_app, name="deid")
