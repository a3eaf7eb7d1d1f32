"""`fednode sites`: each site's credit record at the coordinator (read-only; :mod:`node.coordinator.credit`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import get_ctx, handled_errors
from node.cli.commands_fl import FederationOpt, _load

if TYPE_CHECKING:
    from rich.console import Console

    from node.cli._context import CliContext
    from node.coordinator.credit import SiteCredit
    from node.kit.layout import Federation


def credit_record(cli: CliContext, federation: Path | None, *, job: str | None, window: int) -> dict[str, Any]:
    """The credit figures the coordinator kept (every study, each site's last ``window`` rounds; or one job's),
    as one JSON object; :class:`NotFoundError` where there is none. Opens the record read-only: creates nothing."""
    from fednode.errors import NotFoundError
    from node.coordinator.credit import CreditConfig, CreditStore, find_credit_db

    fed = _load(cli, federation)
    path = find_credit_db([fed.server_dir, cli.settings.nvflare_workspace])
    if path is None:
        raise NotFoundError(
            f"the coordinator keeps no credit record under {fed.server_dir} or {cli.settings.nvflare_workspace}: "
            "no study has finished a round there yet"
        )
    credit = CreditStore(path, readonly=True).credit(CreditConfig(window=window), job_id=job)
    if job is not None and not credit:
        raise NotFoundError(f"the credit record holds no round of job {job}")
    return {
        "record": str(path),
        "job_id": job,
        "window": None if job else window,
        "sites": {site: c.to_json() for site, c in sorted(credit.items())},
    }


def job_credit(cli: CliContext, fed: Federation, job_id: str) -> dict[str, dict[str, Any]]:
    """One job's credit figures per site where the coordinator's record is on this machine; ``{}`` otherwise."""
    from fednode.errors import FednodeError
    from node.coordinator.credit import CreditStore, find_credit_db

    path = find_credit_db([fed.server_dir, cli.settings.nvflare_workspace])
    if path is None:
        return {}
    try:
        credit = CreditStore(path, readonly=True).credit(job_id=job_id)
    except FednodeError:
        return {}
    return {site: c.to_json() for site, c in sorted(credit.items())}


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_credit(console: Console, sites: dict[str, SiteCredit] | dict[str, dict[str, Any]]) -> None:
    """The record as a table that fits 80 columns (trust and policy columns only where some site has one)."""
    from rich.table import Table

    rows = {site: (c if isinstance(c, dict) else c.to_json()) for site, c in sites.items()}
    with_trust = any(r["trust"] is not None for r in rows.values())
    with_policy = any(r["excluded"] or r["downweighted"] for r in rows.values())
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("site", no_wrap=True)
    for name in ("score", "rounds", "on time", "late", "missed", "refused", "norm×", "Δloss"):
        table.add_column(name, justify="right")
    if with_trust:
        table.add_column("trust", justify="right")
    if with_policy:
        table.add_column("policy")
    for site, row in rows.items():
        cells = [
            site,
            f"{row['score']:.2f}",
            str(row["asked"]),
            str(row["on_time"]),
            str(row["late"]),
            str(row["missed"]),
            f"{row['refused']}+{row['rejected']}" if row["rejected"] else str(row["refused"]),
            _fmt(row["norm_ratio"], ".2f"),
            _fmt(row["loo"], "+.3f"),
        ]
        if with_trust:
            cells.append(_fmt(row["trust"], ".2f"))
        if with_policy:
            cells.append(
                ", ".join(f"{n} {w}" for n, w in ((row["excluded"], "excl"), (row["downweighted"], "down")) if n) or "-"
            )
        table.add_row(*cells)
    console.print(table)


def sites(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option("--job", metavar="JOB", help="Only the rounds of this job.")] = None,
    window: Annotated[int, typer.Option(min=1, metavar="N", help="Each site's last N rounds, across studies.")] = 20,
    federation: FederationOpt = None,
) -> None:
    """Each site's record at the coordinator: rounds answered on time, late, missed, refused at its own site
    (+ rejected here), its update norm over the round's median, FLTrust trust, the loss change when its update
    is left out (Δloss > 0: it helps), and its creditability score (docs/federation.md). Read-only."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        record = credit_record(cli, federation, job=job, window=window)

        def human(console: Console) -> None:
            scope = f"job {job}" if job else f"last {window} rounds per site"
            console.print(f"credit record ({scope}): {record['record']}", highlight=False, overflow="fold")
            print_credit(console, record["sites"])

        cli.emit({"ok": True, **record}, human)


def register(app: typer.Typer) -> None:
    app.command("sites")(sites)


__all__ = ["credit_record", "job_credit", "print_credit", "register"]
