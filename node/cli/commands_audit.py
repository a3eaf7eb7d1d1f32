"""`fednode audit verify|export`, `fednode ledger show`, `fednode receipt issue|verify`."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fednode.atomic import atomic_text, write_text_atomic
from node.cli._audit import operator_name
from node.cli._context import get_ctx, handled_errors
from node.cli._state import check_output_file, open_read_only

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from rich.console import Console

    from node.cli._context import CliContext
    from policies.approver_keys import ApproverKey
    from policies.audit import AuditLog, SignedHead
    from policies.state import StateStore


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
            Path | None,
            typer.Option(
                "--public-key",
                help="The site's public key PEM as pinned at provisioning (default: the site kit's local/site.pub).",
            ),
        ] = None,
        anchors: Annotated[
            Path | None,
            typer.Option(
                "--anchors",
                help="Signed heads kept off the site (the coordinator's, a signed model's provenance, receipts; "
                "JSON or JSONL): the chain must match each.",
            ),
        ] = None,
        strict: Annotated[
            bool, typer.Option("--strict", help="Fail (exit 5) when unsigned or verified with an unpinned key.")
        ] = False,
    ) -> None:
        """Verify the hash chain, its signed checkpoints and (--anchors) the heads kept off the site.

        Only a pinned key anchors the result: --public-key, else the kit's local/site.pub.
        Without one, the key beside state.db is used: "unanchored" (a warning).
        No signature over any record: "unsigned" (a warning). --strict fails on both.
        Exit 5 naming the first bad record.
        """
        from fednode.errors import AuditChainError
        from policies.audit import read_anchors, read_export, verify_export
        from policies.keys import key_id, read_public_key_file

        cli = get_ctx(ctx)
        with handled_errors(cli):
            key = read_public_key_file(public_key, option="--public-key") if public_key else None
            key_source = f"--public-key {public_key}" if public_key else ""
            heads = read_anchors(anchors) if anchors is not None else None
            parsed = read_export(export) if export is not None else None  # bad input (4) before the site
            if key is None:
                key, key_source = _kit_key(cli)
            pinned = key is not None
            if parsed is not None:
                if key is None or parsed.head is None:
                    local_site, key_path = _site_policy_key_path(cli)
                    key = key or _key_beside_state(cli, key_path)
                site = parsed.head.site if parsed.head is not None else local_site
                report = verify_export(parsed, key, anchors=_heads_of(heads, site, anchors))
            else:
                audit, store, key = _open_chain(cli, key)
                try:
                    site = audit.site
                    report = audit.verify(key, anchors=_heads_of(heads, site, anchors))
                finally:
                    store.dispose()
            kid = key_id(key)
            warnings: list[str] = []
            if not pinned:
                warnings.append(
                    "unanchored: checked with the key found beside state.db, which whoever can rewrite the "
                    "database can replace; give the key pinned at provisioning with --public-key"
                )
            if report.unsigned:
                warnings.append(f"unsigned: no signature covers any of its {report.records} records")
            elif parsed is not None and parsed.head is None and report.signed_through < report.last_seq:
                warnings.append(
                    f"unsigned head: an export from before signed heads; records {report.signed_through + 1}.."
                    f"{report.last_seq} are covered by no signature"
                )
            if strict and warnings:
                raise AuditChainError("--strict: " + "; ".join(warnings))
            status = "unsigned" if report.unsigned else ("intact" if pinned else "unanchored")
            payload = {
                **report.to_json(),
                "status": status,
                "site": site,
                "key_id": kid,
                "key_pinned": pinned,
                "key_source": key_source or "beside state.db (not pinned)",
                "warnings": warnings,
            }
            for w in warnings:
                _warn(w)

            def render(console: Console) -> None:
                what = "hashes consistent but UNSIGNED" if report.unsigned else "intact and signed"
                what += "" if pinned else ", key NOT pinned (unanchored)"
                console.print(
                    f"audit chain {what}: {report.records} records, {report.checkpoints} signed checkpoints, "
                    f"signed through record {report.signed_through}, head {report.last_seq} {report.last_hash[:16]}",
                    highlight=False,
                )
                console.print(
                    f"key {kid}: " + (f"pinned ({key_source})" if pinned else "found beside state.db"),
                    highlight=False,
                )
                if report.anchors:
                    console.print(
                        f"[green]anchored[/green]: matches {report.anchors} signed heads kept off the site, up to "
                        f"record {report.last_anchor_seq}",
                        highlight=False,
                    )
                else:
                    console.print("not checked against heads kept off the site (--anchors FILE)", highlight=False)

            cli.emit(payload, render)

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
                    actor=operator_name(),
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
                issued = issue_receipt(job, site=db.site, key=db.key, audit_head=db.audit.signed_head())
                if out is not None:
                    write_text_atomic(out, issued.dumps() + "\n")
                db.audit.append(
                    AuditEvent.RECEIPT_ISSUED,
                    actor=operator_name(),
                    job_id=job_id,
                    details={"digest": job.manifest.digest},
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
        home: Annotated[
            Path | None,
            typer.Option(
                "--home",
                help="A site home (its state.db): the receipt's audit head must be in that site's audit chain.",
            ),
        ] = None,
        policy_file: Annotated[
            Path | None,
            typer.Option(
                "--policy",
                help="The issuing site's policy: every approver must have signed with the key it enrols for them.",
            ),
        ] = None,
    ) -> None:
        """Verify a receipt against the issuing site's public key, and the approvers' own signatures in it (with
        --policy: against the keys the site policy enrols). Exit 5 if altered or forged, or (--home) if the
        site's audit chain no longer holds the audit head the receipt was issued with (records deleted or
        rewritten)."""
        from fednode.errors import BadInputError
        from fednode.inputs import read_input_text
        from policies.keys import read_public_key_file
        from policies.receipts import Receipt, verify_receipt

        cli = get_ctx(ctx)
        with handled_errors(cli):
            text = read_input_text(path, where=str(path), not_text="not a receipt (not UTF-8 text: a binary file?)")
            try:
                receipt = Receipt.loads(text)
            except BadInputError as exc:
                raise BadInputError(exc.message, file=str(path)) from None
            key = read_public_key_file(public_key, option="--public-key")
            enrolled = _enrolled_keys(policy_file) if policy_file is not None else None
            state_db = _home_state_db(home) if home is not None else None
            body = verify_receipt(receipt, key, enrolled=enrolled)
            signed = [a["name"] for a in body.get("approvers", []) if isinstance(a, dict) and "signature" in a]
            payload: dict[str, Any] = {
                "ok": True,
                "body": dict(body),
                "approvers_signed": signed,
                "approvers_checked_against_policy": enrolled is not None,
            }
            if state_db is not None:
                payload["audit_head_in_chain"] = _receipt_head_in_chain(body, key, state_db, path)
            in_chain = payload.get("audit_head_in_chain")

            def render(console: Console) -> None:
                console.print(f"[green]receipt valid[/green]: job {body['job_id']} at {body['site']}", highlight=False)
                if signed:
                    against = "the keys the site policy enrols" if enrolled is not None else "the keys in it (--policy)"
                    console.print(
                        f"approvals signed by {', '.join(signed)}: each verified against {against}", highlight=False
                    )
                else:
                    console.print("approvals carry no approver signatures (names only)", highlight=False)
                if in_chain is not None:
                    console.print(
                        f"[green]its audit head (record {in_chain['seq']}) is in the chain[/green] at {home} "
                        f"({in_chain['records']} records, verified with the given key)",
                        highlight=False,
                    )
                else:
                    console.print("not checked against the site's audit chain (--home DIR)", highlight=False)

            cli.emit(payload, render)


def _warn(text: str) -> None:
    from rich.console import Console as _Console

    _Console(stderr=True).print(f"[yellow]Warning:[/yellow] {text}", highlight=False, soft_wrap=True)


def _kit_key(cli: CliContext) -> tuple[Ed25519PublicKey | None, str]:
    """The site's public key pinned in its startup kit (``local/site.pub``), if the kit is here."""
    from node.kit.layout import SITE_PUBLIC_KEY
    from policies.keys import read_public_key_file

    path = cli.settings.site_local_dir / SITE_PUBLIC_KEY
    if not path.is_file():
        return None, ""
    return read_public_key_file(path, option="site kit"), str(path)


def _site_policy_key_path(cli: CliContext) -> tuple[str, Path]:
    """This home's site name and signing key file, tolerating an invalid policy (the default key file)."""
    from fednode.errors import PolicyFileError
    from policies.state_db import _signing_key_hint, load_site_policy, signing_key_path

    try:
        policy = load_site_policy(cli.settings, required=False)
    except PolicyFileError as exc:
        _warn(f"the site policy is invalid ({exc.message}); verified without it (the default site name)")
        return cli.settings.site_name, _signing_key_hint(cli.settings)
    site = policy.site.name if policy is not None else cli.settings.site_name
    return site, signing_key_path(cli.settings, policy)


def _key_beside_state(cli: CliContext, key_path: Path | None = None) -> Ed25519PublicKey:
    """The public key beside this home's site key (unpinned): read only, never created."""
    from fednode.errors import NotFoundError
    from policies.keys import key_file, load_public_key, load_site_key, public_path_for

    path = key_path if key_path is not None else _site_policy_key_path(cli)[1]
    private = key_file(path)
    public = public_path_for(private)
    if public.is_file():
        return load_public_key(public.read_bytes())
    if private.is_file():
        return load_site_key(private).public_key
    raise NotFoundError(
        f"{private}: no site signing key here and no key pinned; give the key pinned at provisioning with "
        "--public-key FILE (verification never creates a key)"
    )


def _open_chain(cli: CliContext, pinned: Ed25519PublicKey | None) -> tuple[AuditLog, StateStore, Ed25519PublicKey]:
    """This home's audit log, read only and without the private key (an auditor's copy of state.db verifies)."""
    from fednode.errors import NotFoundError
    from policies.audit import AuditLog
    from policies.state import StateStore

    if not cli.settings.state_db_path.is_file():
        raise NotFoundError(
            f"no site state at {cli.settings.home} (state.db does not exist): this home holds no site; "
            "check FEDNODE_HOME, or set the site up with `fednode site init`"
        )
    site, key_path = _site_policy_key_path(cli)
    key = pinned if pinned is not None else _key_beside_state(cli, key_path)
    store = StateStore.for_path(cli.settings.state_db_path)
    return AuditLog(store, None, public_key=key, site=site), store, key


def _heads_of(heads: list[SignedHead] | None, site: str, path: Path | None) -> list[SignedHead]:
    """The heads of ``site`` among those read from ``--anchors``; none of this site's is bad input."""
    from fednode.errors import BadInputError

    if heads is None:
        return []
    mine = [h for h in heads if h.site == site]
    if not mine:
        others = ", ".join(sorted({h.site or "(unnamed)" for h in heads}))
        raise BadInputError(f"holds no signed head of site {site!r} (only of: {others})", file=f"--anchors {path}")
    return mine


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _home_state_db(home: Path) -> Path:
    """``home``'s state.db, checked to be an SQLite database before anything opens it (opening creates tables)."""
    from fednode.errors import BadInputError

    where = f"--home {home}"
    if not home.exists():
        raise BadInputError("no such folder", file=where)
    if not home.is_dir():
        raise BadInputError("not a folder (a site home holds state.db)", file=where)
    db = home / "state.db"
    try:
        with db.open("rb") as fh:
            magic = fh.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        raise BadInputError("no state.db here: not a site home", file=where) from None
    except OSError as exc:
        raise BadInputError(f"cannot read its state.db ({type(exc).__name__})", file=where) from None
    if magic != _SQLITE_MAGIC:
        raise BadInputError("its state.db is not an SQLite database", file=where)
    return db


def _receipt_head_in_chain(
    body: Mapping[str, Any], key: Ed25519PublicKey, state_db: Path, receipt_path: Path
) -> dict[str, Any]:
    """Check the receipt's audit head (a signed head, or the plain ``{seq, hash}`` of older receipts) against the
    chain in ``state_db``, which is verified whole with ``key``. AuditChainError (exit 5) when it is not there."""
    from fednode.errors import AuditChainError, BadInputError
    from policies.audit import HEAD_TYPE, AuditLog, SignedHead
    from policies.state import StateStore

    raw = body.get("audit_head")
    if not isinstance(raw, Mapping):
        raise BadInputError("the receipt names no audit head: nothing to find in the chain", file=str(receipt_path))
    anchors: list[SignedHead] = []
    if raw.get("type") == HEAD_TYPE:
        head = SignedHead.from_json(raw)
        if head.site != body.get("site"):
            raise AuditChainError(f"the receipt's audit head is of site {head.site!r}, not {body.get('site')!r}")
        anchors.append(head)  # verify_records checks its signature with the pinned key
        seq, digest = head.seq, head.hash
    else:
        raw_seq, raw_hash = raw.get("seq"), raw.get("hash")
        if isinstance(raw_seq, bool) or not isinstance(raw_seq, int) or not isinstance(raw_hash, str):
            raise BadInputError("the receipt's audit_head has no integer seq and text hash", file=str(receipt_path))
        seq, digest = raw_seq, raw_hash
    store = StateStore.for_path(state_db)
    try:
        audit = AuditLog(store, None, public_key=key, site=str(body.get("site", "")))
        report = audit.verify(key, anchors=anchors)
        stored = audit.hash_at(seq)
    finally:
        store.dispose()
    if stored is None:
        raise AuditChainError(
            f"the receipt was issued when the audit chain ended at record {seq}; the chain now ends at "
            f"{report.last_seq}: records were deleted",
            first_bad_seq=report.last_seq + 1,
        )
    if stored != digest:
        raise AuditChainError(
            f"record {seq} differs from the audit head the receipt was issued with: the chain was rewritten",
            first_bad_seq=seq,
        )
    return {"seq": seq, "hash": digest, "records": report.records, "signed": anchors != []}


def _enrolled_keys(path: Path) -> dict[str, ApproverKey]:
    """The approvers' keys a site policy file enrols (``approval.keys``), by name."""
    from policies.approver_keys import ApproverKey
    from policies.policy_model import load_policy

    policy = load_policy(path)
    return {name: ApproverKey.parse(text) for name, text in policy.approval.keys.items()}
