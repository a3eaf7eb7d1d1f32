"""`fednode doctor`: why can't this site reach the coordinator? (``--coordinator``: the coordinator's side.)"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from node.cli._context import get_ctx, handled_errors

if TYPE_CHECKING:
    from node.kit.doctor import Report

SECRETS = Path("/run/secrets")
DEFAULT_SITE_KIT = SECRETS / "startup_kit"
DEFAULT_SERVER_KIT = SECRETS / "server_kit"
DEFAULT_ADMIN_KIT = SECRETS / "admin_kit"
PROXY_ENV = ("grpc_proxy", "https_proxy", "http_proxy", "all_proxy", "no_grpc_proxy", "no_proxy")
_MARKS = {"pass": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red"), "skip": ("skip", "dim")}


def doctor(
    ctx: typer.Context,
    coordinator: Annotated[
        bool,
        typer.Option(
            "--coordinator",
            help="Check the coordinator's side instead of this site's (the default in the coordinator's image, "
            "FEDNODE_ROLE=coordinator).",
        ),
    ] = False,
    kit: Annotated[
        Path | None,
        typer.Option(
            "--kit",
            envvar="FEDNODE_STARTUP_KIT",
            metavar="DIR",
            help="Startup kit to check (site: /run/secrets/startup_kit; coordinator: /run/secrets/server_kit).",
        ),
    ] = None,
    admin_kit: Annotated[
        Path | None,
        typer.Option(
            "--admin-kit",
            envvar="FEDNODE_ADMIN_KIT",
            metavar="DIR",
            help="With --coordinator: the operator's admin kit, used for the TLS check.",
        ),
    ] = None,
    sites: Annotated[
        str,
        typer.Option(
            "--sites",
            envvar="FEDNODE_SITES",
            metavar="SITE,SITE,...",
            help="With --coordinator: the provisioned sites.",
        ),
    ] = "",
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=60.0, metavar="SECONDS", help="Limit for each network check.")
    ] = 3.0,
) -> None:
    """Check, read-only, everything this site needs to take part: the startup kit and its certificate, DNS, TCP
    and mutual TLS to the coordinator, clocks, proxies, disk, state.db, the CDM, the compiled policy, the offline
    models, the sandbox and a GPU if asked for. Each check says what it measured and what to do. Exit 0 when none
    failed (warnings allowed), 1 when one did (named in the last line)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        if coordinator or os.environ.get("FEDNODE_ROLE") == "coordinator":  # the image says which side it is
            from node.coordinator.doctor import CoordinatorDoctor, diagnose_coordinator

            names = tuple(s.strip() for s in sites.split(",") if s.strip())
            admin = admin_kit or (DEFAULT_ADMIN_KIT if DEFAULT_ADMIN_KIT.is_dir() else None)
            report = diagnose_coordinator(
                CoordinatorDoctor(
                    cli.settings,
                    kit=_kit(kit, DEFAULT_SERVER_KIT, cli.settings.staged_kit_dir),
                    admin_kit=admin,
                    sites=names,
                    timeout=timeout,
                )
            )
        else:
            from node.site.doctor import SiteDoctor, diagnose_site

            env = {k: v for k, v in os.environ.items() if k.lower() in PROXY_ENV}  # the edge reads the environment
            report = diagnose_site(
                SiteDoctor(
                    cli.settings,
                    kit=_kit(kit, DEFAULT_SITE_KIT, cli.settings.staged_kit_dir),
                    timeout=timeout,
                    env=env,
                )
            )
        payload = report.to_json()
        if not report.ok:
            payload["exit_code"] = 1
        cli.emit(payload, lambda console: _render(console, report))
    if not report.ok:
        summary = f"doctor: {len(report.failed)} check(s) failed: {', '.join(report.failed)}"
        Console(stderr=True, soft_wrap=True).print(Text.assemble(("Error:", "bold red"), " ", summary))
        raise typer.Exit(1)


def _kit(given: Path | None, default: Path, staged: Path) -> Path:
    """The kit named, else the compose secret, else the copy the service staged in the state volume."""
    if given is not None:
        return given
    if default.exists() or not staged.is_dir():
        return default
    return staged


def _render(console: Console, report: Report) -> None:
    """One line per check (``FAIL tcp: ...``), ``what to do:`` under a warning or failure, wrapped to the terminal
    with the continuation indented under the check."""
    console.print(f"fednode doctor ({report.side})", style="bold", highlight=False)
    width = max(40, console.width)
    for check in report.checks:
        mark, style = _MARKS[str(check.status)]
        head = f"{mark} {check.name}: "
        lines = _wrap(head + check.measured, width)
        first = Text.assemble((mark, style), " ", (check.name, "bold"), ": ", lines[0][len(head) :])
        console.print(first, *lines[1:], sep="\n", highlight=False, soft_wrap=True)
        if check.remedy and check.status.value in ("fail", "warn"):
            console.print(
                "\n".join(_wrap(f"what to do: {check.remedy}", width, _INDENT)), highlight=False, soft_wrap=True
            )
    counts = report.counts()
    console.print(
        f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed, {counts['skip']} skipped",
        highlight=False,
    )


_INDENT = " " * 5


def _wrap(text: str, width: int, first: str = "") -> list[str]:
    lines = textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=_INDENT, break_on_hyphens=False)
    return lines or [first + text]


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""
    app.command("doctor")(doctor)
