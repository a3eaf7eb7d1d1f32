"""`fednode jobs`, `fednode approve`, `fednode reject`, `fednode approvers enroll`: the same approval service
the dashboard uses (``policies.registry.JobService``)."""

from __future__ import annotations

import functools
import getpass
import os
import sys
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fednode.errors import BadInputError, ConfigError
from node.cli._context import get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

    from node.cli._context import CliContext
    from node.site.byoc_review import ByocReview
    from policies.approver_keys import SignedApproval
    from policies.contracts import JobRecord
    from policies.state_db import StateDb


def _job_json(job: JobRecord) -> dict[str, Any]:
    m = job.manifest
    return {
        "job_id": job.job_id,
        "state": job.state.value,
        "state_reason": job.state_reason,
        "study": m.study,
        "app": m.app_name,
        "kind": m.kind.value,
        "submitter": m.submitter,
        "digest": m.digest,
        "verdict_allowed": job.verdict.allowed,
        "deny_reasons": list(job.verdict.reasons),
        "approvals": [
            {
                "approver": a.approver,
                "decision": a.decision,
                "at": a.at.isoformat(),
                "second_factor": a.second_factor,
                "key": a.key_fingerprint or None,
            }
            for a in job.approvals
        ],
        "required_approvals": job.required_approvals,
        "dp": None
        if m.dp is None
        else {"noise_multiplier": m.dp.noise_multiplier, "target_epsilon": m.dp.target_epsilon, "delta": m.dp.delta},
        "dataset": m.dataset,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


JOB_COLUMNS = ("job", "state", "study", "verdict", "approvals", "submitted by", "submitted", "digest", "kind")
"""The ``jobs`` table's columns; at a narrow terminal the last ones are dropped first, never the job id."""
_REQUIRED = 2
"""How many of :data:`JOB_COLUMNS` are always shown (job, state)."""
_MAX_WORD = 12
"""Columns other than the job id may fold a word longer than this (a long study name, an e-mail address)."""
_GAP = 2
"""Characters between two columns of the borderless table."""


def short_digest(digest: str, length: int = 8) -> str:
    """The start of a digest with a marker that it is cut (nobody types a digest; ``--job`` shows it in full)."""
    return digest if len(digest) <= length else digest[:length] + "\N{HORIZONTAL ELLIPSIS}"


def _job_cells(j: JobRecord) -> dict[str, Any]:
    from rich.text import Text

    yes = sum(1 for a in j.approvals if a.decision == "approve")
    return {
        "job": Text(j.job_id, style="bold"),
        "state": Text(j.state.value),
        "study": Text(j.manifest.study),
        "verdict": Text("allow") if j.verdict.allowed else Text("deny", style="red"),
        "approvals": Text(f"{yes}/{j.required_approvals}"),
        "submitted": Text(j.manifest.submitted_at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")),
        "submitted by": Text(j.manifest.submitter),
        "digest": Text(short_digest(j.manifest.digest)),
        "kind": Text(j.manifest.kind.value),
    }


def _fit(least: list[int], natural: list[int], room: int) -> list[int]:
    """Column widths from ``least`` up towards ``natural``, one character at a time, within ``room``."""
    widths = list(least)
    spare = room - sum(widths)
    while spare > 0 and any(w < n for w, n in zip(widths, natural, strict=True)):
        for i, n in enumerate(natural):
            if spare > 0 and widths[i] < n:
                widths[i] += 1
                spare -= 1
    return widths


def jobs_table(jobs: list[JobRecord], width: int) -> Any:
    """The jobs as a table that fits ``width`` columns: the job id (what a person types) is never cut or wrapped;
    the other columns wrap, and the least useful ones are dropped while the table would not fit."""
    from rich import box
    from rich.table import Table

    rows = [_job_cells(j) for j in jobs]
    id_width = min(max(len(j.job_id) for j in jobs), width - 4)
    least: dict[str, int] = {}
    natural: dict[str, int] = {}
    for name in JOB_COLUMNS[1:]:
        texts = [cells[name].plain for cells in rows]
        least[name] = min(max(len(w) for w in [*" ".join(texts).split(), *name.split()]), _MAX_WORD)
        natural[name] = max(len(name), *map(len, texts))
    count = len(JOB_COLUMNS)
    while count > _REQUIRED and id_width + sum(least[n] for n in JOB_COLUMNS[1:count]) + _GAP * (count - 1) > width:
        count -= 1
    names = JOB_COLUMNS[1:count]
    room = width - id_width - _GAP * (count - 1)
    widths = _fit([least[n] for n in names], [natural[n] for n in names], room)
    table = Table(
        title="jobs at this site",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    fits = room >= sum(widths)
    table.add_column("job", no_wrap=fits, width=id_width if fits else None, overflow="fold")  # else fold, never crop
    for name, column_width in zip(names, widths, strict=True):
        table.add_column(name, width=column_width, overflow="fold")
    for cells in rows:
        table.add_row(*(cells[name] for name in JOB_COLUMNS[:count]))
    return table


def _render_jobs(jobs: list[JobRecord]) -> Any:
    def render(console: Console) -> None:
        if not jobs:
            console.print("no jobs at this site")
            return
        console.print(jobs_table(jobs, console.width))

    return render


def _render_decision(job: JobRecord) -> Any:
    def render(console: Console) -> None:
        yes = sum(1 for a in job.approvals if a.decision == "approve")
        console.print(
            f"job {job.job_id}: [bold]{job.state.value}[/bold] ({yes}/{job.required_approvals} approvals, "
            f"digest {short_digest(job.manifest.digest)})"
        )

    return render


def _render_job(job: JobRecord, review: ByocReview | None = None) -> Any:
    def render(console: Console) -> None:
        m = job.manifest
        console.print(f"[bold]{job.job_id}[/bold]  {job.state.value}  {job.state_reason}".rstrip())
        console.print(f"study {m.study}, app {m.app_name} ({m.kind.value}), submitted by {m.submitter}")
        console.print(f"digest {m.digest}; {len(m.files)} files; {m.algorithm}, {m.rounds} rounds")
        if m.dp is not None:
            console.print(
                f"DP: noise {m.dp.noise_multiplier}, clip {m.dp.max_grad_norm}, target epsilon "
                f"{m.dp.target_epsilon} at delta {m.dp.delta:g} on {m.dataset}"
            )
        for r in job.verdict.results:
            colour = {"allow": "green", "deny": "red"}.get(r.outcome.value, "yellow")
            console.print(f"  [{colour}]{r.outcome.value:5}[/{colour}] {r.rule}: {r.reason}", highlight=False)
        for f in job.verdict.findings:
            console.print(
                f"  {f.severity:4} {f.file}:{f.line} [{f.capability}] {f.message}", highlight=False, markup=False
            )
        if review is not None:
            _render_review(console, review)
        for a in job.approvals:
            factor = (f", signed by key {a.key_fingerprint}" if a.key_fingerprint else "") + (
                ", TOTP" if a.second_factor else ""
            )
            console.print(f"  {a.decision} by {a.approver} at {a.at.isoformat()}{factor}: {a.reason}", highlight=False)

    return render


def _render_review(console: Console, review: ByocReview) -> None:
    """What the job's code may do at this site (``node.site.byoc_review``), one fact a line."""
    lim, staged = review.limits, review.staged
    print_ = functools.partial(console.print, highlight=False, markup=False)
    print_(f"sandbox: runs {review.script}" if review.script else f"sandbox: cannot run ({review.config_problem})")
    for p in review.paths:
        print_(f"  {p.access:10} {p.path}: {p.what}")
    print_(f"  never: {', '.join(review.never)}")
    print_(f"  network: {review.network}")
    memory = f"{lim.memory_mib} MiB" if lim.memory_mib is not None else "no limit"
    print_(f"  limits: memory {memory}, {lim.max_processes} processes, run time {lim.wall_minutes} min")
    tables = "; ".join(f"{t.table}({', '.join(t.columns)})" for t in staged.tables)
    records = "unknown" if staged.records is None else str(staged.records)
    print_(f"staged data: {', '.join(staged.files)} from {tables}; {records} records (min {staged.min_records})")
    if staged.refusal:
        print_(f"  {staged.refusal}")
    print_(f"site DP at egress: {review.site_dp.summary}")


def _print_statement(cli: CliContext, job_id: str) -> None:
    """The exact bytes to sign for ``job_id`` now (raw on stdout, so ``> st.txt`` keeps them)."""
    from node.cli._state import open_read_only

    db = open_read_only(cli)
    try:
        text = db.jobs.statement(job_id).to_bytes().decode("utf-8")
    finally:
        db.close()
    if cli.json_output:
        cli.emit({"ok": True, "job_id": job_id, "statement": text})
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _read_signature(signature: Path, signed: Path | None) -> SignedApproval:
    """The detached signature and the statement it covers, read at the edge (missing or unreadable: exit 4)."""
    from policies.approver_keys import MAX_ARMORED, ApprovalStatement, SignedApproval, Sshsig, SshsigError

    if signed is None:
        if signature.suffix != ".sig":
            raise BadInputError(f"--signed: name the statement file that {signature} signs")
        signed = signature.with_suffix("")
    texts: list[bytes] = []
    for option, path in (("--signature", signature), ("--signed", signed)):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise BadInputError(f"{option} {path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
        if len(raw) > MAX_ARMORED:
            raise BadInputError(f"{option} {path}: too large for a signature or statement")
        texts.append(raw)
    try:
        armored = texts[0].decode("ascii")
        Sshsig.parse(armored)
    except UnicodeDecodeError:
        raise BadInputError(f"--signature {signature}: not an armored SSH signature (binary)") from None
    except SshsigError as exc:
        raise BadInputError(f"--signature {signature}: {exc}") from None
    try:
        ApprovalStatement.signed_time(texts[1])
    except SshsigError as exc:
        raise BadInputError(f"--signed {signed}: not an approval statement ({exc})") from None
    return SignedApproval(statement=texts[1], signature=armored)


def _sign_with_agent(db: StateDb, job_id: str, approver: str | None) -> SignedApproval:
    """Ask the approver's SSH agent (SSH_AUTH_SOCK) to sign this job's statement."""
    from fednode.errors import ApprovalRefusedError
    from policies.ssh_agent import AgentError, SshAgent, sign_with_agent

    statement = db.jobs.statement(job_id)  # an unknown job is exit 4 before anything else
    sock = os.environ.get("SSH_AUTH_SOCK")
    if not sock:
        raise ApprovalRefusedError(
            f"job {job_id}: the site policy requires an approval signed by your own key, and no SSH agent is "
            "reachable (SSH_AUTH_SOCK unset; use `ssh -A`, or --statement then --signature)"
        )
    try:
        return sign_with_agent(SshAgent(Path(sock)), db.jobs.rules, statement, approver)
    except AgentError as exc:
        raise ApprovalRefusedError(f"job {job_id}: cannot sign with the SSH agent: {exc}") from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""

    @app.command("jobs")
    def jobs_cmd(
        ctx: typer.Context,
        state: Annotated[
            list[str] | None, typer.Option("--state", help="Only jobs in this state (repeatable).")
        ] = None,
        job: Annotated[str | None, typer.Option("--job", help="Show one job in full (JSON with --json).")] = None,
    ) -> None:
        """List the jobs this site knows, newest first."""
        from fednode.errors import BadInputError
        from node.cli._state import open_read_only
        from policies.contracts import JobKind, JobState

        cli = get_ctx(ctx)
        with handled_errors(cli):
            try:
                states = [JobState(s) for s in state] if state else None
            except ValueError as exc:
                raise BadInputError(f"unknown state; use one of {', '.join(s.value for s in JobState)}") from exc
            db = open_read_only(cli)
            try:
                if job is not None:
                    record = db.jobs.get(job)
                    review = None
                    if record.manifest.kind is JobKind.BYOC:  # what its code may do here (loads torch: BYOC only)
                        from node.site.desk import SiteDesk

                        review = SiteDesk(cli.settings, db).byoc_review(job)
                    payload: dict[str, Any] = {"ok": True, "job": _job_json(record)}
                    if review is not None:
                        payload["review"] = review.to_json()
                    cli.emit(payload, _render_job(record, review))
                    return
                jobs = db.jobs.list_jobs(states)
                cli.emit({"ok": True, "jobs": [_job_json(j) for j in jobs]}, _render_jobs(jobs))
            finally:
                db.close()

    @app.command("approve")
    def approve_cmd(
        ctx: typer.Context,
        job_id: Annotated[str, typer.Argument(help="The job id (see `fednode jobs`).", metavar="JOB_ID")],
        reason: Annotated[
            str | None, typer.Option("--reason", help="Why this job may run (stored and audited).")
        ] = None,
        approver: Annotated[
            str | None,
            typer.Option("--approver", help="Who approves (with signed approvals: checked against the key)."),
        ] = None,
        totp: Annotated[str | None, typer.Option("--totp", help="Current TOTP code, where the policy asks.")] = None,
        statement: Annotated[
            bool, typer.Option("--statement", help="Print the statement to sign for this job, and stop.")
        ] = False,
        signature: Annotated[
            Path | None,
            typer.Option("--signature", help="A detached signature (ssh-keygen -Y sign -n fednode-approval)."),
        ] = None,
        signed: Annotated[
            Path | None,
            typer.Option("--signed", help="The statement file the signature covers (default: FILE without .sig)."),
        ] = None,
    ) -> None:
        """Approve a pending job (bound to its digest). Exit 3 if the policy or the approval rules refuse.

        Where the policy enrols approvers' keys, the approval is signed by your own key: through your SSH agent
        (SSH_AUTH_SOCK, forwarded over your SSH session), or made elsewhere: `--statement > st.txt`, then
        `ssh-keygen -Y sign -n fednode-approval -f KEY st.txt`, then `--signature st.txt.sig`.
        """
        cli = get_ctx(ctx)
        with handled_errors(cli):
            if statement:
                _print_statement(cli, job_id)
                return
            if reason is None:
                raise ConfigError("--reason: why this job may run is required")
            proof = _read_signature(signature, signed) if signature is not None else None
            from policies.state_db import open_state_db

            db = open_state_db(cli.settings, require_policy=True, create=False)
            try:
                if proof is None and db.jobs.rules.signed:
                    proof = _sign_with_agent(db, job_id, approver)
                name = approver if (approver or proof is not None) else getpass.getuser()
                record = db.jobs.approve(job_id, name, reason, totp_code=totp, signed=proof)
            finally:
                db.close()
            cli.emit({"ok": True, "job": _job_json(record)}, _render_decision(record))

    @app.command("reject")
    def reject_cmd(
        ctx: typer.Context,
        job_id: Annotated[str, typer.Argument(help="The job id (see `fednode jobs`).", metavar="JOB_ID")],
        reason: Annotated[str, typer.Option("--reason", help="Why this job must not run (stored and audited).")],
        approver: Annotated[str | None, typer.Option("--approver", help="Who rejects (default: the OS user).")] = None,
    ) -> None:
        """Reject a pending or approved (not yet running) job."""
        from policies.state_db import open_state_db

        cli = get_ctx(ctx)
        with handled_errors(cli):
            db = open_state_db(cli.settings, require_policy=True, create=False)
            try:
                record = db.jobs.reject(job_id, approver or getpass.getuser(), reason)
            finally:
                db.close()
            cli.emit({"ok": True, "job": _job_json(record)}, _render_decision(record))

    approvers = typer.Typer(help="Approvers: their enrolled keys, their TOTP second factor.", no_args_is_help=True)
    app.add_typer(approvers, name="approvers")

    @approvers.command("keys")
    def keys_cmd(ctx: typer.Context) -> None:
        """List the approvers and the key each signs approvals with (compare with `ssh-add -l` or
        `ssh-keygen -lf KEY.pub`). Reads the site policy only."""
        from policies.policy_model import load_policy
        from policies.registry import ApprovalRules

        cli = get_ctx(ctx)
        with handled_errors(cli):
            policy = load_policy(cli.settings.policy_path)
            rules = ApprovalRules.from_policy(policy.approval, site=policy.site.name)
            rows = [
                {
                    "approver": name,
                    "key_type": key.key_type if key else None,
                    "fingerprint": key.fingerprint if key else None,
                    "comment": key.comment if key else None,
                }
                for name in rules.approvers
                for key in [rules.key_of(name)]
            ]

            def render(console: Console) -> None:
                mode = "signed by their own keys" if rules.signed else "typed names (identity: name)"
                console.print(f"approvals at {policy.site.name}: {mode}; {rules.required_approvals} needed")
                for r in rows:
                    if r["fingerprint"] is None:
                        console.print(f"  {r['approver']}: no key enrolled (cannot approve)", highlight=False)
                    else:
                        console.print(
                            f"  {r['approver']}: {r['key_type']} {r['fingerprint']} {r['comment'] or ''}".rstrip(),
                            highlight=False,
                            soft_wrap=True,
                        )

            cli.emit({"ok": True, "identity": "key" if rules.signed else "name", "approvers": rows}, render)

    @approvers.command("enroll")
    def enroll_cmd(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The approver, as listed in the policy's approval.approvers.")],
        replace: Annotated[bool, typer.Option("--replace", help="Rotate an existing secret.")] = False,
    ) -> None:
        """Create an approver's TOTP secret; prints it once (load it into an authenticator app)."""
        from fednode.errors import ApprovalRefusedError
        from policies.policy_model import load_policy
        from policies.registry import ApprovalRules
        from policies.totp import FileTotpVerifier

        cli = get_ctx(ctx)
        with handled_errors(cli):
            policy = load_policy(cli.settings.policy_path)
            if not ApprovalRules.from_policy(policy.approval).allows(name):
                raise ApprovalRefusedError(f"{name!r} is not an approver in the site policy")
            # the secret only: enrolling creates neither state.db nor the site key (`fednode site init` does)
            totp = FileTotpVerifier(cli.settings.totp_dir)
            enrolled = totp.enroll(name, site=policy.site.name, replace=replace)
            from node.cli._audit import record
            from policies.audit import AuditEvent

            details = {"approver": enrolled.approver, "factor": "totp", "replaced": replace}
            record(cli, AuditEvent.APPROVER_ENROLLED, details)  # never the secret

            def render(console: Console) -> None:
                console.print(f"TOTP secret for {enrolled.approver} (shown once): [bold]{enrolled.secret}[/bold]")
                console.print(f"otpauth URI: {enrolled.uri}", soft_wrap=True)

            cli.emit(
                {"ok": True, "approver": enrolled.approver, "secret": enrolled.secret, "uri": enrolled.uri}, render
            )
