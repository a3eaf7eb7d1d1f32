"""The root ``fednode`` Typer app. Subcommand groups are added from their own modules."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from node.cli._context import build_context

app = typer.Typer(
    name="fednode",
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
    logging.basicConfig(
        level=cli.settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=__import__("sys").stderr,
    )
    ctx.obj = cli


def _register() -> None:
    """Attach each command group. Each module imports its heavy dependencies lazily, inside the commands."""
    from node.cli import (
        commands_audit,
        commands_data,
        commands_deid,
        commands_experiment,
        commands_fl,
        commands_jobs,
        commands_policy,
        commands_runtime,
        commands_tui,
    )

    modules = (
        commands_data,
        commands_deid,
        commands_policy,
        commands_jobs,
        commands_audit,
        commands_fl,
        commands_experiment,
        commands_runtime,
        commands_tui,
    )
    for module in modules:
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
