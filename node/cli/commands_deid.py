"""`fednode deid detect|run|eval|gold`: de-identification of clinical notes (see the CLI contract in DESIGN.md)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

deid_app = typer.Typer(name="deid", help="De-identify clinical notes (Presidio, offline).", no_args_is_help=True)


def _write_report(cli: CliContext, payload: dict[str, Any]) -> None:
    """The latest run's report for the dashboard (counts and reasons only): :class:`node.site.reports.ReportStore`."""
    from node.site.reports import ReportStore

    with contextlib.suppress(OSError):  # a read-only home must not fail the run; the report is also printed
        ReportStore.for_settings(cli.settings).write("deid", payload)


def _summary(title: str, payload: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(title=title)
        table.add_column("what")
        table.add_column("value", justify="right")
        for key, value in payload.items():
            table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
        console.print(table)

    return render


@deid_app.command("detect")
def detect(
    ctx: typer.Context,
    input_path: Annotated[Path, typer.Option("--input", help="Notes JSONL: {id, text, lang?} per line.")],
    output: Annotated[Path, typer.Option("--output", help="Spans JSONL: {id, spans:[{start,end,label}]}.")],
) -> None:
    """Find PHI spans (character offsets, end exclusive) without changing the text."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from deid.detect_file import detect_file

        started = time.perf_counter()
        counts = detect_file(input_path, output, cli.settings.deid)
        payload = {"ok": True, **counts, "seconds": round(time.perf_counter() - started, 3)}
        cli.emit(payload, _summary("deid detect", payload))


@deid_app.command("run")
def run(
    ctx: typer.Context,
    input_path: Annotated[Path, typer.Option("--input", help="Notes JSONL (see CONTRIBUTING.md).")],
    output: Annotated[
        Path | None, typer.Option("--output", help="File mode: write de-identified notes JSONL here.")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="CDM database URL (default: the site's omop.db).")] = None,
    operator: Annotated[
        str | None, typer.Option("--operator", help="surrogate (default), tag, redact or hmac.")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Worker processes.")] = None,
) -> None:
    """De-identify notes into the OMOP NOTE/NOTE_NLP tables, or into a JSONL file with --output."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        payload: dict[str, Any]
        if output is not None:
            from deid.files import deidentify_file

            payload = deidentify_file(
                input_path,
                output,
                cli.settings.deid,
                cli.settings.quarantine_dir,
                operator=operator,
                workers=workers,
            )
        else:
            from node.site.notes import deidentify_notes_into_cdm

            payload = deidentify_notes_into_cdm(cli.settings, input_path, db, operator=operator, workers=workers)
        _write_report(cli, payload)
        cli.emit(payload, _summary("deid run", payload))


@deid_app.command("eval")
def evaluate(
    ctx: typer.Context,
    gold: Annotated[Path, typer.Option("--gold", help="Gold JSONL: {text, lang, phi:[{start,end,label}]} per line.")],
    output: Annotated[Path | None, typer.Option("--output", help="Also write the full report JSON here.")] = None,
    min_recall: Annotated[float, typer.Option(help="Target entity recall for every label.")] = 0.98,
    min_precision: Annotated[float, typer.Option(help="Target entity precision for every label.")] = 0.90,
) -> None:
    """Entity- and character-level P/R/F2 per label and language against a gold set."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from deid.evaluate_file import evaluate_file

        started = time.perf_counter()
        report = evaluate_file(gold)
        failures = report.failures(min_recall, min_precision)
        payload = {
            "ok": True,
            "gold": str(gold),
            **report.to_dict(),
            "targets": {"min_recall": min_recall, "min_precision": min_precision},
            "targets_missed": failures,
            "seconds": round(time.perf_counter() - started, 3),
        }
        if output is not None:
            output.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")

        def render(console: Console) -> None:
            from rich.table import Table

            table = Table(title=f"deid eval: {report.notes} notes (entity P/R/F2, char R)")
            for col in ("lang", "label", "gold", "P", "R", "F2", "char R"):
                table.add_column(col)
            metrics: dict[str, dict[str, dict[str, Any]]] = payload["metrics"]  # type: ignore[assignment]
            for lang, labels in metrics.items():
                for label, m in labels.items():
                    table.add_row(
                        lang,
                        label,
                        str(m["gold"]),
                        f"{m['precision']:.3f}",
                        f"{m['recall']:.3f}",
                        f"{m['f2']:.3f}",
                        f"{m['char_recall']:.3f}",
                    )
            console.print(table)
            console.print("targets met" if not failures else f"[red]targets missed:[/red] {', '.join(failures)}")

        cli.emit(payload, render)


@deid_app.command("gold")
def gold_set(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder for dev.jsonl and test.jsonl.")] = Path("data/deid-gold"),
    dev: Annotated[int, typer.Option(min=1, help="Notes in the dev (tuning) split.")] = 600,
    test: Annotated[int, typer.Option(min=1, help="Notes in the held-out test split.")] = 600,
    seed: Annotated[int, typer.Option(help="Seed of the dev split; test uses seed + 101.")] = 101,
) -> None:
    """Generate the synthetic gold set (dev: template group A; held-out test: template group B, another seed)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from deid.synthetic import Split, generate

        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, dict[str, object]] = {}
        splits: tuple[tuple[Split, int, int], ...] = (("dev", dev, seed), ("test", test, seed + 101))
        for split, n, split_seed in splits:
            notes = generate(split, n, split_seed)
            path = out / f"{split}.jsonl"
            path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in notes), encoding="utf-8")
            phi = 0
            for note in notes:
                spans = note["phi"]
                phi += len(spans) if isinstance(spans, list) else 0
            written[split] = {"path": str(path), "notes": len(notes), "phi": phi}
        payload = {"ok": True, "splits": written}
        cli.emit(payload, _summary("deid gold", payload))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(deid_app, name="deid")
