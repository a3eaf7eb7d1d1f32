"""The root ``fednode`` Typer app. Subcommand groups are added from their own modules."""

from __future__ import annotations

import inspect
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.core import Context as ClickContext  # the click Typer runs on (it vendors its own)
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperArgument, TyperGroup, TyperOption

from fednode.exitcodes import ExitCode
from node.cli._context import build_context, write_json_error

_JSON = "--json"
_JSON_META = "fednode.json"
# Option metavariables a reader understands better than the option's own name.
_METAVARS = {
    "DB": "URL",
    "JOB": "JOB_ID",
    "NOW": "TIME",
    "BUDGET": "DATASET=EPSILON",
    "TOTP": "CODE",
    "MIN_RECALL": "FRACTION",
    "MIN_PRECISION": "FRACTION",
    "SERVER_HOST": "HOST",
    "ADMIN": "EMAIL",
}


class _Argument(TyperArgument):
    """A positional argument shown as ``JOB_ID`` (``[JOB_ID]`` when optional), not Typer's ``{job_id} <str>``."""

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return [f"{name}..." if self.nargs != 1 else name]

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _commands(cmd: Any) -> Iterator[Any]:
    """``cmd`` and every command below it."""
    yield cmd
    for sub in getattr(cmd, "commands", {}).values():
        yield from _commands(sub)


def _metavar(option: TyperOption, ctx: Any) -> str:
    """No metavariable for a flag; PATH/FILE/DIR for paths, the choices, or the option's name (JOB_ID, URL)."""
    if option.is_flag or option.count:
        return ""
    label = option.display_type(ctx).strip("<>")
    if label in ("path", "file", "directory"):
        return {"path": "PATH", "file": "FILE", "directory": "DIR"}[label]
    if "|" in label and not label.startswith("list["):
        return f"[{label}]"
    name = max(option.opts, key=len).lstrip("-").replace("-", "_").upper()
    if name in _METAVARS:
        return _METAVARS[name]
    if label.startswith("int"):  # a count; a port stays a PORT
        return "PORT" if name.endswith("PORT") else "N"
    return name


_KEEP_LINES = re.compile(r"^\s*(?:[-*|>]|\d+[.)]\s|\x08)", re.MULTILINE)


def _unwrapped(text: str) -> str:
    """A docstring's paragraphs as single lines, so the terminal wraps them (Rich keeps the source's breaks);
    a paragraph holding a list, a table or Click's ``\\b`` marker keeps its lines."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if _KEEP_LINES.search(p) else " ".join(p.split("\n")) for p in paragraphs)


def _readable_help(root: Any) -> None:
    """Give every parameter of the tree the metavariable its help shows (Typer's default is ``<bool>``/``<str>``),
    and every command's help its paragraphs unwrapped."""
    for cmd in _commands(root):
        if cmd.help:
            cmd.help = _unwrapped(cmd.help)
        ctx = typer.Context(cmd)
        help_option = cmd.get_help_option(ctx)
        if help_option is not None:
            help_option.metavar = ""
        for param in cmd.params:
            if isinstance(param, TyperOption) and param.metavar is None:
                param.metavar = _metavar(param, ctx)
            elif isinstance(param, TyperArgument) and not isinstance(param, _Argument):
                if param.metavar is None:
                    param.metavar = (param.name or "value").upper()
                param.__class__ = _Argument  # same state, two display methods changed


def _lift_json(args: list[str]) -> tuple[list[str], bool]:
    """Move every ``--json`` before a ``--`` to the front, so it is the root's option wherever it was typed."""
    end = args.index("--") if "--" in args else len(args)
    head = [a for a in args[:end] if a != _JSON]
    if len(head) == end:
        return args, False
    return [_JSON, *head, *args[end:]], True


class FednodeGroup(TyperGroup):
    """The root command: ``--json`` after a subcommand as well as before it, readable help metavariables, and a
    usage error reported as one JSON object on stdout under ``--json`` (click still prints it and exits 2)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _readable_help(self)

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        args, wants_json = _lift_json(list(args))
        ctx.meta[_JSON_META] = wants_json
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _report_usage(ctx, exc)
            raise

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            _report_usage(ctx, exc)
            raise


def _report_usage(ctx: ClickContext, exc: UsageError) -> None:
    """With ``--json``: the usage error as the one JSON object on stdout (the human text stays on stderr)."""
    if not ctx.meta.get(_JSON_META):
        return
    context = exc.ctx or ctx
    if isinstance(exc, NoArgsIsHelpError):
        message = f"{context.command_path}: a command is missing (see --help)"
    else:
        message = f"{context.command_path}: {exc.format_message()}"
    write_json_error("UsageError", message, ExitCode.USAGE)


app = typer.Typer(
    name="fednode",
    cls=FednodeGroup,
    help="fednode: a compliance-first federated-learning node for hospitals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print one machine-readable JSON object.")] = False,
    home: Annotated[Path | None, typer.Option("--home", envvar="FEDNODE_HOME", help="Site state folder.")] = None,
) -> None:
    overrides = {"home": home} if home is not None else {}
    cli = build_context(json_output, **overrides)
    _configure_logging(cli.settings.log_level)
    ctx.obj = cli


def _configure_logging(level_name: str) -> None:
    """fednode's own lines at the configured level on stderr; libraries' (Presidio, NVFlare, transformers) only
    from WARNING, unless DEBUG is asked for: their INFO chatter is not the person's business."""
    level = logging.getLevelName(level_name.upper())
    level = level if isinstance(level, int) else logging.INFO
    libraries = logging.DEBUG if level <= logging.DEBUG else max(level, logging.WARNING)
    logging.basicConfig(level=libraries, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("fednode").setLevel(level)


def _register() -> None:
    """Attach each command group. Each module imports its heavy dependencies lazily, inside the commands."""
    from node.cli import (
        commands_audit,
        commands_data,
        commands_deid,
        commands_doctor,
        commands_experiment,
        commands_fl,
        commands_jobs,
        commands_model,
        commands_ner,
        commands_policy,
        commands_runtime,
        commands_sites,
        commands_tui,
    )

    modules = (
        commands_data,
        commands_deid,
        commands_policy,
        commands_jobs,
        commands_audit,
        commands_fl,
        commands_sites,
        commands_experiment,
        commands_ner,
        commands_model,
        commands_runtime,
        commands_doctor,
        commands_tui,
    )
    for module in modules:
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
