"""`fednode audit verify|export`, `fednode ledger show`, `fednode receipt issue|verify`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer) -> None:
    """Add this module's command groups to the root app."""
    audit = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
    ledger = typer.Typer(help="The privacy-budget ledger.", no_args_is_help=True)
    receipt = typer.Typer(help="Signed approval receipts.", no_args_is_help=True)
    app.add_typer(audit, name="audit")
    app.add_typer(ledger, name="ledger")
    app.add_typer(receipt, name="receipt")

    @audit.command("verify")
    def verify_cmd(
        ctx: typer.Context,
        export: Annotated[
            Path | None, typer.Option("--file", help="Verify an exported JSONL file instead of state.db.")
        ] = None,
        public_key: Annotated[
            Path | None, typer.Option("--public-key", help="The site's public key PEM (default: this site's).")
        ] = None,
    ) -> None:
        """Verify the hash chain and every signed checkpoint. Exit 5 naming the first bad record."""
        from policies.audit import verify_jsonl
        from policies.keys import load_public_key
        from policies.state_db import open_state_db

        cli = get_ctx(ctx)
        with handled_errors(cli):
            key = load_public_key(public_key.read_bytes()) if public_key else None
            if export is not None:
                if key is None:
                    db = open_state_db(cli.settings, create=False)
                    key = db.key.public_key
                    db.close()
                report = verify_jsonl(export, key)
            else:
                db = open_state_db(cli.settings, create=False)
                try:
                    report = db.audit.verify(key)
                finally:
                    db.close()

            def render(console: Console) -> None:
                console.print(
                    f"[green]audit chain intact[/green]: {report.records} records, {report.checkpoints} signed "
                    f"checkpoints, head {report.last_seq} {report.last_hash[:16]}"
                )

            cli.emit(report.to_json(), render)

    @audit.command("export")
    def export_cmd(
        ctx: typer.Context,
        out: Annotated[Path | None, typer.Option("--out", help="JSONL file (default: stdout).")] = None,
        crate: Annotated[Path | None, typer.Option("--ro-crate", help="Write an RO-Crate folder here instead.")] = None,
        job: Annotated[
            str | None, typer.Option("--job", help="With --ro-crate: a Five Safes RO-Crate for this job.")
        ] = None,
    ) -> None:
        """Export the audit log (verified while written): JSONL, or an RO-Crate folder (Five Safes with --job)."""
        from policies.audit import AuditEvent, export_jsonl, export_ro_crate
        from policies.state_db import open_state_db

        cli = get_ctx(ctx)
        with handled_errors(cli):
            db = open_state_db(cli.settings, create=False)
            try:
                if crate is not None:
                    record = db.jobs.get(job) if job else None
                    report = export_ro_crate(
                        db.audit,
                        crate,
                        site=db.site,
                        public_key=db.key.public_key,
                        job=record,
                        egress=db.jobs.egress(job) if job else (),
                        rounds=len(db.jobs.rounds(job)) if job else 0,
                    )
                    target = str(crate)
                elif out is not None:
                    with out.open("w", encoding="utf-8") as fh:
                        report = export_jsonl(db.audit, fh)
                    target = str(out)
                else:
                    if cli.json_output:
                        raise typer.BadParameter("with --json, give --out or --ro-crate (stdout carries the result)")
                    report = export_jsonl(db.audit, sys.stdout)
                    target = "-"
                db.audit.append(
                    AuditEvent.AUDIT_EXPORTED,
                    actor="cli",
                    details={
                        "records": report.records,
                        "head": report.last_hash,
                        "format": "ro-crate" if crate else "jsonl",
                    },
                )
            finally:
                db.close()
            if target != "-":
                cli.emit(
                    {**report.to_json(), "exported_to": target},
                    lambda c: c.print(f"exported {report.records} records to {target}"),
                )

    @ledger.command("show")
    def ledger_show_cmd(
        ctx: typer.Context,
        dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    ) -> None:
        """Budget, spend, reservations and what remains, per dataset."""
        from policies.state_db import open_state_db

        cli = get_ctx(ctx)
        with handled_errors(cli):
            db = open_state_db(cli.settings, create=False)
            try:
                names = [dataset] if dataset else db.ledger.datasets()
                rows = [db.ledger.summary(n) for n in names]
                reservations = [r for r in db.ledger.reservations() if dataset in (None, r.dataset)]
            finally:
                db.close()
            payload: dict[str, Any] = {
                "ok": True,
                "datasets": [r.to_json() for r in rows],
                "reservations": [
                    {
                        "job_id": r.job_id,
                        "dataset": r.dataset,
                        "status": r.status.value,
                        "reserved_epsilon": r.reserved_epsilon,
                        "spent_epsilon": r.spent_epsilon,
                    }
                    for r in reservations
                ],
            }

            def render(console: Console) -> None:
                from rich.table import Table

                table = Table(title=f"privacy budget ({db.ledger.accountant}, delta {db.ledger.delta:g})")
                for col in ("dataset", "budget ε", "spent ε", "spent + reserved ε", "remaining ε", "running jobs"):
                    table.add_column(col)
                for r in rows:
                    table.add_row(
                        r.dataset,
                        f"{r.budget_epsilon:g}",
                        f"{r.spent_epsilon:.3f}",
                        f"{r.committed_total_epsilon:.3f}",
                        f"{r.remaining_epsilon:.3f}",
                        str(r.reserved_jobs),
                    )
                console.print(table)

            cli.emit(payload, render)

    @receipt.command("issue")
    def receipt_issue_cmd(
        ctx: typer.Context,
        job_id: Annotated[str, typer.Argument(help="An approved job.")],
        out: Annotated[Path | None, typer.Option("--out", help="Write the receipt here.")] = None,
    ) -> None:
        """Sign an approval receipt for an approved job with the site key."""
        from policies.audit import AuditEvent
        from policies.receipts import issue_receipt
        from policies.state_db import open_state_db

        cli = get_ctx(ctx)
        with handled_errors(cli):
            db = open_state_db(cli.settings)
            try:
                job = db.jobs.get(job_id)
                issued = issue_receipt(job, site=db.site, key=db.key, audit_head=db.audit.head())
                db.audit.append(
                    AuditEvent.RECEIPT_ISSUED, actor="cli", job_id=job_id, details={"digest": job.manifest.digest}
                )
            finally:
                db.close()
            if out is not None:
                out.write_text(issued.dumps() + "\n", encoding="utf-8")
            cli.emit({"ok": True, "receipt": issued.to_json()}, lambda c: c.print_json(issued.dumps()))

    @receipt.command("verify")
    def receipt_verify_cmd(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(help="The receipt JSON file.")],
        public_key: Annotated[Path, typer.Option("--public-key", help="The issuing site's public key PEM.")],
    ) -> None:
        """Verify a receipt against the issuing site's public key. Exit 5 if altered or forged."""
        from policies.keys import load_public_key
        from policies.receipts import Receipt, verify_receipt

        cli = get_ctx(ctx)
        with handled_errors(cli):
            body = verify_receipt(
                Receipt.loads(path.read_text(encoding="utf-8")), load_public_key(public_key.read_bytes())
            )
            cli.emit(
                {"ok": True, "body": dict(body)},
                lambda c: c.print(f"[green]receipt valid[/green]: job {body['job_id']} at {body['site']}"),
            )
