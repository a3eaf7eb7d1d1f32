"""What every command shares: the settings (built once, at the edge), output mode, and error mapping."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console

from fednode.errors import FednodeError
from fednode.exitcodes import ExitCode
from fednode.settings import Settings, load_settings

log = logging.getLogger("fednode.cli")


@dataclass
class CliContext:
    """Carried on ``typer.Context.obj``: the settings and how to print."""

    settings: Settings
    json_output: bool
    console: Console

    def emit(self, payload: dict[str, Any], human: Callable[[Console], None] | None = None) -> None:
        """Print one JSON object (``--json``) or the human rendering."""
        if self.json_output:
            sys.stdout.write(json.dumps(payload, default=str, sort_keys=True) + "\n")
            sys.stdout.flush()
        elif human is not None:
            human(self.console)
        else:
            self.console.print_json(json.dumps(payload, default=str))


def get_ctx(ctx: typer.Context) -> CliContext:
    """The shared context; built lazily so ``--help`` never reads settings."""
    obj = ctx.find_root().obj
    if isinstance(obj, CliContext):
        return obj
    raise typer.Exit(int(ExitCode.INTERNAL))


def build_context(json_output: bool, **overrides: Any) -> CliContext:
    try:
        settings = load_settings(**overrides)
    except Exception as exc:  # pydantic's ValidationError names the field; never the value of a secret
        err = Console(stderr=True)
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(int(ExitCode.USAGE)) from exc
    return CliContext(settings=settings, json_output=json_output, console=Console(stderr=json_output))


@contextmanager
def handled_errors(cli: CliContext) -> Iterator[None]:
    """Turn a FednodeError into its exit code and one clear message (JSON with ``--json``)."""
    try:
        yield
    except FednodeError as exc:
        if cli.json_output:
            sys.stdout.write(
                json.dumps({"ok": False, "error": exc.title, "message": exc.message, "exit_code": int(exc.exit_code)})
                + "\n"
            )
        Console(stderr=True).print(f"[red]{exc.title}:[/red] {exc.message}", highlight=False)
        raise typer.Exit(int(exc.exit_code)) from exc
