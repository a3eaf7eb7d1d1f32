"""`fednode dashboard`: the site dashboard in this terminal (see docs/dashboard.md)."""

from __future__ import annotations

import typer

from node.cli._context import get_ctx, handled_errors


def dashboard(ctx: typer.Context) -> None:
    """Review and approve jobs, follow training, read the audit log, the policy and the data (a terminal UI)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.services import SiteServices
        from tui import make_app  # the one sanctioned node -> tui import (see the import-linter contracts)

        services = SiteServices.from_settings(cli.settings)
        try:
            make_app(cli.settings, services).run()
        finally:
            services.close()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("dashboard")(dashboard)
