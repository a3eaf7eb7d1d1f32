"""`fednode ner predict`: tag the site's de-identified notes with a downloaded study model into NOTE_NLP."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

ner_app = typer.Typer(help="Use a study's NER model at this site.", no_args_is_help=True)


@ner_app.command("predict")
def predict(
    ctx: typer.Context,
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="Model folder written by `fednode study download`.")
    ],
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input",
            metavar="FILE",
            help="Notes JSONL: note_id (CDM id or source id) and optionally text, one note a line "
            "(default: every NOTE row).",
        ),
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="CDM database URL (default: the site's omop.db).")] = None,
    coordinator_key: Annotated[
        Path | None,
        typer.Option(
            "--coordinator-key",
            metavar="FILE",
            help="Coordinator public key (PEM) to verify the model with (default: the key pinned at provisioning).",
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="torch device, e.g. cpu.")] = "cpu",
) -> None:
    """Verify the model's signature (exit 5 if it fails), tag the notes and write NOTE_NLP rows (nlp_system: the
    study and the model digest) into the CDM in one transaction. Offline."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import SignatureError
        from node.local.predict import read_note_refs, run_predict, trusted_key
        from policies.audit import AuditEvent

        if input_path is not None:
            read_note_refs(input_path)  # bad input first (file:line), before the key, the database or torch
        key = trusted_key(coordinator_key, cli.settings.site_local_dir)
        try:
            payload = run_predict(
                model_dir=model,
                input_path=input_path,
                db_url=db or cli.settings.omop_db_url,
                db_option="--db" if db else "omop_url",
                key_pem=key,
                device=device,
                progress=not cli.json_output and sys.stderr.isatty(),
            )
        except SignatureError as exc:
            from node.cli._audit import record

            record(cli, AuditEvent.MODEL_REJECTED, {"command": "ner predict", "model": str(model), "why": exc.message})
            raise
        from node.cli._audit import record

        details = {k: payload[k] for k in ("nlp_system", "study", "job_id", "signed_by", "notes", "rows")}
        record(cli, AuditEvent.MODEL_VERIFIED, {"command": "ner predict", **details})

        def render(console: Console) -> None:
            console.print(
                f"[green]verified[/green] {payload['model']} (study {payload['study']}, signed by "
                f"{payload['signed_by']})\n{payload['rows']} NOTE_NLP row(s) for {payload['notes']} note(s) "
                f"({payload['notes_with_mentions']} with mentions), nlp_system {payload['nlp_system']}",
                highlight=False,
            )

        out: dict[str, Any] = payload
        cli.emit(out, render)


def register(app: typer.Typer) -> None:
    """Add the ``ner`` group to the root app."""
    app.add_typer(ner_app, name="ner")
