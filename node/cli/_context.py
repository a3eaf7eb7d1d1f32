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
from rich.text import Text

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
    """Build the settings once, at the edge; an invalid setting is a usage error (exit 2) naming the field."""
    try:
        settings = load_settings(**overrides)
    except Exception as exc:  # pydantic's ValidationError names the field; never the value of a secret
        report_error(json_output, "ConfigError", f"configuration: {_settings_problem(exc)}", ExitCode.USAGE)
        raise typer.Exit(int(ExitCode.USAGE)) from exc
    return CliContext(settings=settings, json_output=json_output, console=Console(stderr=json_output))


def _settings_problem(exc: Exception) -> str:
    """One line per invalid field (``home: ...``), without the rejected value (it may be a secret)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors(include_input=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or str(exc)


def report_error(json_output: bool, title: str, message: str, exit_code: int) -> None:
    """The one way a command reports failure: ``Error: <message>`` on stderr, one line; with ``--json`` also
    ``{"ok": false, "error", "message", "exit_code"}`` on stdout."""
    if json_output:
        write_json_error(title, message, exit_code)
    Console(stderr=True, soft_wrap=True).print(Text.assemble(("Error:", "bold red"), " ", message))


def write_json_error(title: str, message: str, exit_code: int) -> None:
    """The ``--json`` error object, alone on one stdout line."""
    payload = {"ok": False, "error": title, "message": message, "exit_code": int(exit_code)}
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


@contextmanager
def handled_errors(cli: CliContext) -> Iterator[None]:
    """Turn a FednodeError into its exit code and one clear line (one JSON object with ``--json``).

    The safety net below it catches the ordinary OS errors an edge forgot to translate: a path that is missing,
    unreadable or not a folder (exit 4, naming the file), and bytes that are not UTF-8 text (exit 4). Neither
    prints a traceback; the traceback goes to the debug log."""
    try:
        yield
    except FednodeError as exc:
        report_error(cli.json_output, exc.title, exc.message, exc.exit_code)
        raise typer.Exit(int(exc.exit_code)) from exc
    except UnicodeDecodeError as exc:
        log.debug("cli.undecodable_input", exc_info=True)
        message = f"an input file is not a UTF-8 text file (byte {exc.start} cannot be decoded)"
        report_error(cli.json_output, "BadInputError", message, ExitCode.BAD_INPUT)
        raise typer.Exit(int(ExitCode.BAD_INPUT)) from exc
    except OSError as exc:
        if exc.filename is None:
            raise
        log.debug("cli.os_error", exc_info=True)
        message = f"{exc.filename}: {exc.strerror or exc}"
        report_error(cli.json_output, "BadInputError", message, ExitCode.BAD_INPUT)
        raise typer.Exit(int(ExitCode.BAD_INPUT)) from exc
