"""`fednode model card DIR`: print a downloaded model's signed model card (read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from node.cli._context import get_ctx, handled_errors

model_app = typer.Typer(name="model", help="Read what comes with a downloaded global model.", no_args_is_help=True)


def _public_key(path: Path) -> str:
    """``--public-key FILE``: an Ed25519 public key in PEM form (exit 4 otherwise, naming the option)."""
    from fednode.errors import BadInputError, FednodeError
    from fednode.inputs import read_input_bytes
    from policies.keys import load_public_key

    where = f"--public-key {path}"
    data = read_input_bytes(path, where=where)
    try:
        load_public_key(data)
        return data.decode("ascii")
    except (FednodeError, UnicodeDecodeError):
        raise BadInputError("not an Ed25519 public key in PEM form", file=where) from None


def _attachments(folder: Path, trusted: str | None) -> tuple[dict[str, str], str]:
    """The card files' signed digests and how far they were checked: the signature with ``trusted``, else only
    against ``provenance.json`` (which a changed card no longer matches)."""
    import json

    from fednode.errors import SignatureError
    from node.coordinator.signing import PROVENANCE_FILE, Provenance, verify_signed_model

    if trusted is not None:
        verified = verify_signed_model(folder, [trusted])
        return dict(verified.provenance.attachments), f"signature verified (key {verified.key_id})"
    path = folder / PROVENANCE_FILE
    try:
        provenance = Provenance.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise SignatureError(f"{path}: missing; this card is not signed") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignatureError(f"{path}: unreadable ({type(exc).__name__})") from None
    return dict(provenance.attachments), "matches provenance.json (pass --public-key to verify the signature)"


@model_app.command("card")
def model_card(
    ctx: typer.Context,
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="The model folder (`fednode study download` prints it).")
    ],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key", metavar="FILE", help="The coordinator's public key (PEM): verify the signature too."
        ),
    ] = None,
) -> None:
    """Print the model card of a downloaded model: per-site and per-group figures, what went in, who decided,
    limitations. Its files must match the digests the coordinator signed (exit 5 if one byte differs)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import BadInputError
        from node.coordinator.model_card import CARD_JSON, read_card, render_markdown

        trusted = _public_key(public_key) if public_key is not None else None
        if not folder.is_dir():
            raise BadInputError("no such model folder (`fednode study download` writes one)", file=str(folder))
        if not (folder / CARD_JSON).is_file():
            raise BadInputError(f"no {CARD_JSON} here: this model has no card", file=str(folder))
        attachments, checked = _attachments(folder, trusted)
        card = read_card(folder, attachments)

        def human(console: Console) -> None:
            from rich.markdown import Markdown

            console.print(Markdown(render_markdown(card)))
            console.print(f"[green]{checked}[/green]")

        payload: dict[str, Any] = {"ok": True, "folder": str(folder), "checked": checked, "card": card}
        cli.emit(payload, human)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(model_app)
