"""`fednode dashboard`: the site dashboard in this terminal (see docs/dashboard.md).

The dashboard is its own program (``python -m tui``); this command hands the terminal over to it, so the CLI never
imports the dashboard (the import-linter contracts in pyproject.toml keep it that way).
"""

from __future__ import annotations

import os
import sys

import typer

from node.cli._context import get_ctx, handled_errors


def dashboard(ctx: typer.Context) -> None:
    """Review and approve jobs, follow training, read the audit log, the policy and the data (a terminal UI)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from policies.state_db import open_state_db

        # this home must hold a site (state.db and its key), checked here, before the terminal is handed over:
        # otherwise exit 4 and nothing is created. An invalid policy still opens (the Policy tab shows why).
        open_state_db(cli.settings, create=False, tolerate_invalid_policy=True).close()
    env = dict(os.environ)
    env["FEDNODE_HOME"] = str(cli.settings.home)
    argv = [sys.executable, "-m", "tui"]
    os.execve(sys.executable, argv, env)  # noqa: S606  # our own interpreter running our own package


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("dashboard")(dashboard)
