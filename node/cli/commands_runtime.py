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
    typer.Option(
        "--kit", envvar="FEDNODE_STARTUP_KIT", metavar="DIR", help="Startup kit folder from `fednode provision`."
    ),
]
SiteKeyOption = Annotated[
    Path,
    typer.Option(
        "--site-key",
        envvar="FEDNODE_SITE_KEY_FILE",
        metavar="FILE",
        help="The site's Ed25519 key (PEM) to install into the state volume; empty or absent: keep or create one.",
    ),
]
AdminKitOption = Annotated[
    Path | None,
    typer.Option(
        "--admin-kit",
        envvar="FEDNODE_ADMIN_KIT",
        metavar="DIR",
        help="The operator's admin kit (for `fednode study`).",
    ),
]
SitesOption = Annotated[
    str,
    typer.Option(
        "--sites",
        envvar="FEDNODE_SITES",
        metavar="SITE,SITE,...",
        help="The provisioned sites, comma-separated (for `fednode study`).",
    ),
]


@site_app.command("init")
def site_init(ctx: typer.Context) -> None:
    """Create this site's state.db and signing key where they do not exist yet (safe to rerun): the one explicit
    step that creates them (the site's boot runs it too); it says what it created and what it found."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.cli._audit import operator_name
        from policies.state_db import init_site

        done = init_site(cli.settings, actor=operator_name())

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
        _require_kit(kit or Path("/run/secrets/startup_kit"), "--kit")  # before the boot creates any state
        from node.kit.runtime import exec_supervisor
        from node.site.boot import prepare_site

        exec_supervisor(prepare_site(cli.settings, kit=kit, site_key=site_key))


@coordinator_app.command("start")
def coordinator_start(
    ctx: typer.Context, kit: KitOption = None, admin_kit: AdminKitOption = None, sites: SitesOption = ""
) -> None:
    """Run the FLARE server from its startup kit (foreground); set up `fednode study` when an admin kit is given.

    A job whose site dropped out is closed after 30 s (NVFLARE_CLIENT_OUTCOME_WAIT_TIMEOUT; NVFlare's is 900 s)."""
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
        _require_kit(source, "--kit")  # both kits and the site names are checked before anything is staged
        names = [s.strip() for s in sites.split(",") if s.strip()]
        if admin_kit is not None:
            _require_kit(admin_kit, "--admin-kit", ("startup/fed_admin.json", "startup/rootCA.pem"))
            if not names:
                from fednode.errors import ConfigError

                raise ConfigError("--sites (FEDNODE_SITES): `fednode study` needs the provisioned site names")
        settings = cli.settings
        staged = stage_kit(source, settings, overlay=server_storage_overlay(settings.nvflare_workspace))
        if admin_kit is not None:
            write_admin_federation(settings, staged.kit, admin_kit, names)
        exec_supervisor(staged, coordinator_env())


def _require_kit(
    kit: Path, option: str, files: tuple[str, ...] = ("startup/sub_start.sh", "startup/rootCA.pem")
) -> None:
    """A startup kit from `fednode provision` is there (exit 4 naming the option and the path, nothing created)."""
    from fednode.errors import BadInputError

    if not kit.is_dir():
        raise BadInputError(f"{option} {kit}: no startup kit there; `fednode provision` writes one for each party")
    missing = [name for name in files if not (kit / name).is_file()]
    if missing:
        raise BadInputError(
            f"{option} {kit}: not a startup kit (no {', '.join(missing)}); use the folder `fednode provision` wrote"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(site_app, name="site")
    app.add_typer(coordinator_app, name="coordinator")
