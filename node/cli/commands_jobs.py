"""`fednode jobs`, `fednode approve`, `fednode reject`, `fednode approvers enroll`: the same approval service
the dashboard uses (``policies.registry.JobService``)."""

from __future__ import annotations

import functools
import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

    from node.site.byoc_review import ByocReview
    from policies.contracts import JobRecord


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
            {"approver": a.approver, "decision": a.decision, "at": a.at.isoformat(), "second_factor": a.second_factor}
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


def _render_jobs(jobs: list[JobRecord]) -> Any:
    def render(console: Console) -> None:
        from rich.table import Table

        table = Table(title="jobs at this site", show_lines=False)
        for col in ("job", "state", "study", "kind", "verdict", "approvals", "digest", "submitted by"):
            table.add_column(col)
        for j in jobs:
            yes = sum(1 for a in j.approvals if a.decision == "approve")
            table.add_row(
                j.job_id,
                j.state.value,
                j.manifest.study,
                j.manifest.kind.value,
                "allow" if j.verdict.allowed else "[red]deny[/red]",
                f"{yes}/{j.required_approvals}",
                j.manifest.digest[:12],
                j.manifest.submitter,
            )
        console.print(table)

    return render


def _render_decision(job: JobRecord) -> Any:
    def render(console: Console) -> None:
        yes = sum(1 for a in job.approvals if a.decision == "approve")
        console.print(
            f"job {job.job_id}: [bold]{job.state.value}[/bold] ({yes}/{job.required_approvals} approvals, "
            f"digest {job.manifest.digest[:12]})"
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
            factor = ", TOTP" if a.second_factor else ""
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
        job_id: Annotated[str, typer.Argument(help="The job id (see `fednode jobs`).")],
        reason: Annotated[str, typer.Option("--reason", help="Why this job may run (stored and audited).")],
        approver: Annotated[str | None, typer.Option("--approver", help="Who approves (default: the OS user).")] = None,
        totp: Annotated[str | None, typer.Option("--totp", help="Current TOTP code, where the policy asks.")] = None,
    ) -> None:
        """Approve a pending job (bound to its digest). Exit 3 if the policy or the approval rules refuse."""
        from policies.state_db import open_state_db

        cli = get_ctx(ctx)
        with handled_errors(cli):
            db = open_state_db(cli.settings, require_policy=True, create=False)
            try:
                record = db.jobs.approve(job_id, approver or getpass.getuser(), reason, totp_code=totp)
            finally:
                db.close()
            cli.emit({"ok": True, "job": _job_json(record)}, _render_decision(record))

    @app.command("reject")
    def reject_cmd(
        ctx: typer.Context,
        job_id: Annotated[str, typer.Argument(help="The job id (see `fednode jobs`).")],
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

    approvers = typer.Typer(help="Approvers' second factor (TOTP).", no_args_is_help=True)
    app.add_typer(approvers, name="approvers")

    @approvers.command("enroll")
    def enroll_cmd(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The approver, as listed in the policy's approval.approvers.")],
        replace: Annotated[bool, typer.Option("--replace", help="Rotate an existing secret.")] = False,
    ) -> None:
        """Create an approver's TOTP secret; prints it once (load it into an authenticator app)."""
        from fednode.errors import ApprovalRefusedError
        from policies.state_db import open_state_db

        cli = get_ctx(ctx)
        with handled_errors(cli):
            db = open_state_db(cli.settings, require_policy=True)
            try:
                if not db.jobs.rules.allows(name):
                    raise ApprovalRefusedError(f"{name!r} is not an approver in the site policy")
                enrolled = db.totp.enroll(name, site=db.site, replace=replace)
            finally:
                db.close()

            def render(console: Console) -> None:
                console.print(f"TOTP secret for {enrolled.approver} (shown once): [bold]{enrolled.secret}[/bold]")
                console.print(f"otpauth URI: {enrolled.uri}", soft_wrap=True)

            cli.emit(
                {"ok": True, "approver": enrolled.approver, "secret": enrolled.secret, "uri": enrolled.uri}, render
            )
