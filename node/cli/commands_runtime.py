"""`fednode site start` and `fednode coordinator start`: the long-running services of the two images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from node.cli._context import get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

site_app = typer.Typer(help="The hospital site's FLARE client.", no_args_is_help=True)
coordinator_app = typer.Typer(help="The coordinator's FLARE server.", no_args_is_help=True)

KitOption = Annotated[
    Path | None,
    typer.Option("--kit", envvar="FEDNODE_STARTUP_KIT", help="Startup kit folder from `fednode provision`."),
]
SiteKeyOption = Annotated[
    Path,
    typer.Option(
        "--site-key",
        envvar="FEDNODE_SITE_KEY_FILE",
        help="The site's Ed25519 key (PEM) to install into the state volume; empty or absent: keep or create one.",
    ),
]
AdminKitOption = Annotated[
    Path | None,
    typer.Option("--admin-kit", envvar="FEDNODE_ADMIN_KIT", help="The operator's admin kit (for `fednode study`)."),
]
SitesOption = Annotated[
    str,
    typer.Option(
        "--sites", envvar="FEDNODE_SITES", help="The provisioned sites, comma-separated (for `fednode study`)."
    ),
]


@site_app.command("init")
def site_init(ctx: typer.Context) -> None:
    """Create this site's state.db and signing key where they do not exist yet (safe to rerun): the one explicit
    step that creates them (the site's boot runs it too); it says what it created and what it found."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from policies.state_db import init_site

        done = init_site(cli.settings)

        def render(console: Console) -> None:
            for what, path, created in (
                ("state.db", done.state_db, done.state_db_created),
                ("site signing key", done.key_file, done.key_created),
            ):
                console.print(f"{'created' if created else 'found'} {what}: {path}", highlight=False, soft_wrap=True)
            console.print(f"site key id {done.key_id}", highlight=False)
            console.print(
                f"public key (to share): {done.key_file.with_suffix('.pub')}", highlight=False, soft_wrap=True
            )

        cli.emit({"ok": True, **done.to_json()}, render)


@site_app.command("start")
def site_start(
    ctx: typer.Context, kit: KitOption = None, site_key: SiteKeyOption = Path("/run/secrets/site_key")
) -> None:
    """Install the site key, compile the site policy into the kit's local/ files, then run the FLARE client."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.kit.runtime import exec_supervisor
        from node.site.boot import prepare_site

        exec_supervisor(prepare_site(cli.settings, kit=kit, site_key=site_key))


@coordinator_app.command("start")
def coordinator_start(
    ctx: typer.Context, kit: KitOption = None, admin_kit: AdminKitOption = None, sites: SitesOption = ""
) -> None:
    """Run the FLARE server from its startup kit (foreground); set up `fednode study` when an admin kit is given.

    NVFLARE_CLIENT_OUTCOME_WAIT_TIMEOUT defaults to 30 s (NVFlare's 900 s keeps a finished job RUNNING for 15
    minutes after a site dropped out); a value in the environment wins."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.kit.runtime import (
            coordinator_env,
            exec_supervisor,
            server_storage_overlay,
            stage_kit,
            write_admin_federation,
        )

        source = kit or Path("/run/secrets/server_kit")
        settings = cli.settings
        staged = stage_kit(source, settings, overlay=server_storage_overlay(settings.nvflare_workspace))
        if admin_kit is not None and admin_kit.is_dir():
            names = [s.strip() for s in sites.split(",") if s.strip()]
            write_admin_federation(settings, staged.kit, admin_kit, names)
        exec_supervisor(staged, coordinator_env())


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(site_app, name="site")
    app.add_typer(coordinator_app, name="coordinator")
