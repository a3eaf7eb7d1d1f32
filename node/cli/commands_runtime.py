"""`fednode site start` and `fednode coordinator start`: the long-running services of the two images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from node.cli._context import get_ctx, handled_errors

site_app = typer.Typer(help="The hospital site's FLARE client.", no_args_is_help=True)
coordinator_app = typer.Typer(help="The coordinator's FLARE server.", no_args_is_help=True)

KitOption = Annotated[
    Path | None,
    typer.Option("--kit", envvar="FEDNODE_STARTUP_KIT", help="Startup kit folder from `fednode provision`."),
]


@site_app.command("start")
def site_start(ctx: typer.Context, kit: KitOption = None) -> None:
    """Compile the site policy into the kit's local/ files, then run the FLARE client (foreground)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.runtime import exec_supervisor, stage_kit
        from node.site_boot import policy_overlay

        source = kit or Path("/run/secrets/startup_kit")
        staged = stage_kit(source, cli.settings.home, overlay=policy_overlay(cli.settings))
        exec_supervisor(staged)


@coordinator_app.command("start")
def coordinator_start(ctx: typer.Context, kit: KitOption = None) -> None:
    """Run the FLARE server from its startup kit (foreground)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.runtime import exec_supervisor, stage_kit

        source = kit or Path(os.environ.get("FEDNODE_STARTUP_KIT", "/run/secrets/server_kit"))
        exec_supervisor(stage_kit(source, cli.settings.home))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(site_app, name="site")
    app.add_typer(coordinator_app, name="coordinator")
