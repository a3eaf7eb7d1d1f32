"""`fednode audit verify|export`, `fednode ledger show`, `fednode receipt issue|verify`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import get_ctx, handled_errors
from node.cli._state import atomic_text, check_output_file, open_read_only, write_text_atomic

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
        from policies.audit import read_jsonl, verify_records
        from policies.keys import read_public_key_file

        cli = get_ctx(ctx)
        with handled_errors(cli):
            key = read_public_key_file(public_key, option="--public-key") if public_key else None
            if export is not None:
                records, checkpoints = read_jsonl(export)  # bad input (4) before the site is looked at
                if key is None:
                    db = open_read_only(cli)
                    key = db.key.public_key
                    db.close()
                report = verify_records(records, checkpoints, key)
            else:
                db = open_read_only(cli)
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
        from fednode.errors import BadInputError, ConfigError
        from policies.audit import AuditEvent, export_jsonl, export_ro_crate

        cli = get_ctx(ctx)
        with handled_errors(cli):
            if job is not None and crate is None:
                raise ConfigError("--job: only with --ro-crate (the JSONL export is the whole log)")
            if crate is not None and out is not None:
                raise ConfigError("--out: give --out or --ro-crate, not both")
            if out is not None:
                check_output_file(out, "--out")
            if crate is not None and not crate.parent.is_dir():
                raise BadInputError(f"folder {crate.parent} does not exist", file=f"--ro-crate {crate}")
            db = open_read_only(cli)
            if crate is None and out is None and cli.json_output:
                db.close()
                raise ConfigError("--out: with --json, give --out or --ro-crate (stdout carries the result)")
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
                    with atomic_text(out) as fh:
                        report = export_jsonl(db.audit, fh)
                    target = str(out)
                else:
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
        from fednode.errors import NotFoundError

        cli = get_ctx(ctx)
        with handled_errors(cli):
            db = open_read_only(cli)
            try:
                known = db.ledger.datasets()
                if dataset is not None and dataset not in known:
                    raise NotFoundError(
                        f"--dataset {dataset}: no such dataset in the site policy or the ledger; known: "
                        + (", ".join(known) or "none (the site policy sets no budget)")
                    )
                names = [dataset] if dataset else known
                rows = [db.ledger.summary(n) for n in names]
                reservations = [r for r in db.ledger.reservations() if dataset in (None, r.dataset)]
            finally:
                db.close()
            payload: dict[str, Any] = {
                "ok": True,
                "policy_problem": db.policy_problem,
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
            if out is not None:
                check_output_file(out, "--out")
            db = open_state_db(cli.settings, create=False)
            try:
                job = db.jobs.get(job_id)
                issued = issue_receipt(job, site=db.site, key=db.key, audit_head=db.audit.head())
                if out is not None:
                    write_text_atomic(out, issued.dumps() + "\n")
                db.audit.append(
                    AuditEvent.RECEIPT_ISSUED, actor="cli", job_id=job_id, details={"digest": job.manifest.digest}
                )
            finally:
                db.close()
            payload: dict[str, Any] = {"ok": True, "receipt": issued.to_json()}
            if out is None:
                cli.emit(payload, lambda c: c.print_json(issued.dumps()))
                return
            cli.emit(
                {**payload, "written_to": str(out)},
                lambda c: c.print(
                    f"receipt for job {job_id} signed by key {issued.key_id} written to {out}", highlight=False
                ),
            )

    @receipt.command("verify")
    def receipt_verify_cmd(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(help="The receipt JSON file.")],
        public_key: Annotated[Path, typer.Option("--public-key", help="The issuing site's public key PEM.")],
    ) -> None:
        """Verify a receipt against the issuing site's public key. Exit 5 if altered or forged."""
        from fednode.errors import BadInputError
        from policies.keys import read_public_key_file
        from policies.receipts import Receipt, verify_receipt

        cli = get_ctx(ctx)
        with handled_errors(cli):
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise BadInputError("no such file", file=str(path)) from None
            except UnicodeDecodeError:
                raise BadInputError("not a receipt (not UTF-8 text: a binary file?)", file=str(path)) from None
            except OSError as exc:
                raise BadInputError(f"cannot read it ({type(exc).__name__})", file=str(path)) from None
            try:
                receipt = Receipt.loads(text)
            except BadInputError as exc:
                raise BadInputError(exc.message, file=str(path)) from None
            body = verify_receipt(receipt, read_public_key_file(public_key, option="--public-key"))
            cli.emit(
                {"ok": True, "body": dict(body)},
                lambda c: c.print(f"[green]receipt valid[/green]: job {body['job_id']} at {body['site']}"),
            )
