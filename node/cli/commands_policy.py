"""`fednode policy check JOB_DIR` and `fednode policy compile`: the site policy engine from the command line.

``check`` reads a standard NVFlare 2.9 job folder, builds the manifest of each app this site would run (as the
site would see it: ``policies.manifest.build_manifests``), judges it in the site's live state assembled exactly as
the approval gate assembles it (``node.site.live_state``), and prints the verdict rule by rule (exit 0 allow, 3
deny, 4 bad input: not a job folder, no meta.json, symbolic links, compiled files, too large). ``compile`` writes
the NVFlare site files (privacy.json, authorization.json, resources.json) after building every class they name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fednode.exitcodes import ExitCode
from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

    from policies.contracts import JobManifest, Verdict
    from policies.policy_model import SitePolicy
    from policies.verdicts import SiteState

policy_app = typer.Typer(help="The site policy: check a job against it, compile it to NVFlare site files.")

_OUTCOME_STYLE = {"allow": "green", "warn": "yellow", "deny": "bold red"}


def _load(cli: CliContext, policy_file: Path | None) -> tuple[Path, SitePolicy]:
    from policies.policy_model import load_policy

    path = policy_file or cli.settings.policy_path
    return path, load_policy(path)


def _parse_now(value: str | None) -> datetime:
    from fednode.errors import BadInputError

    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError("not an ISO 8601 date-time", field="--now") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_budgets(given: list[str]) -> dict[str, float] | None:
    """``--budget DATASET=EPSILON`` values (None when none are given)."""
    from fednode.errors import BadInputError

    if not given:
        return None
    out: dict[str, float] = {}
    for item in given:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value) if sep else float("nan")
        except ValueError:
            raise BadInputError("expected DATASET=EPSILON", field="--budget") from None
        if not sep or out[name.strip()] != out[name.strip()]:
            raise BadInputError("expected DATASET=EPSILON", field="--budget")
    return out


def _verdict_json(manifest: JobManifest, verdict: Verdict) -> dict[str, Any]:
    return {
        "app": manifest.app_name,
        "job_id": manifest.job_id,
        "kind": manifest.kind.value,
        "digest": manifest.digest,
        "allowed": verdict.allowed,
        "policy_digest": verdict.policy_digest,
        "results": [{"rule": r.rule, "outcome": r.outcome.value, "reason": r.reason} for r in verdict.results],
        "findings": [
            {"file": f.file, "line": f.line, "capability": f.capability, "message": f.message, "severity": f.severity}
            for f in verdict.findings
        ],
    }


def _render_check(verdicts: list[tuple[JobManifest, Verdict]], state: SiteState, notes: list[str]) -> Any:
    def render(console: Console) -> None:
        from rich.table import Table

        for manifest, verdict in verdicts:
            word = "[green]ALLOW[/green]" if verdict.allowed else "[bold red]DENY[/bold red]"
            console.print(
                f"{word} job {manifest.job_id} app {manifest.app_name} ({manifest.kind.value}, "
                f"digest {manifest.digest[:16]}) under policy {verdict.policy_digest[:16]}"
            )
            table = Table(show_header=True, header_style="bold")
            for col in ("rule", "outcome", "reason"):
                table.add_column(col)
            for r in verdict.results:
                style = _OUTCOME_STYLE[r.outcome.value]
                table.add_row(r.rule, f"[{style}]{r.outcome.value}[/{style}]", r.reason)
            console.print(table)
            for f in verdict.findings:
                tag = "[red]deny[/red]" if f.severity == "deny" else "[yellow]warn[/yellow]"
                console.print(f"  {f.file}:{f.line}  {tag} {f.capability}  {f.message}", highlight=False)
        for note in notes:
            console.print(f"[dim]{note}[/dim]")

    return render


@policy_app.command("check")
def check(
    ctx: typer.Context,
    job_dir: Annotated[Path, typer.Argument(help="An NVFlare 2.9 job folder (meta.json + app folders).")],
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Site policy YAML (default: the site's).")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Judge the app sent to this site (default: the policy's).")] = None,
    submitter: Annotated[str | None, typer.Option(help="Submitter 'name / org' (default: from meta.json).")] = None,
    coordinator: Annotated[str | None, typer.Option(help="Coordinator 'name / org' to check.")] = None,
    records: Annotated[
        int | None, typer.Option(min=0, help="Local record count (default: annotated notes in the CDM).")
    ] = None,
    budget: Annotated[
        list[str] | None, typer.Option(help="Remaining budget DATASET=EPSILON (repeatable; default: ledger).")
    ] = None,
    now: Annotated[str | None, typer.Option(help="Judge as of this ISO 8601 time (default: now).")] = None,
) -> None:
    """Judge a job folder against the site policy: exit 0 allow, 3 deny."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.site.live_state import open_live_state
        from policies.jobfolder import read_job_folder
        from policies.manifest import build_manifests

        read_job_folder(job_dir)  # a path that is not a job is refused first, before the policy is read
        _, policy = _load(cli, policy_file)
        when = _parse_now(now)
        live, sources = open_live_state(
            cli.settings,
            policy,
            clock=lambda: when,
            budgets=_parse_budgets(budget or []),
            records=records,
            coordinator=coordinator,
        )
        try:
            manifests = build_manifests(job_dir, site=site or policy.site.name, submitted_at=when, submitter=submitter)
            verdicts = [(m, live.judge(m)) for m in manifests.values()]
            state = live.snapshot()
        finally:
            live.close()
        allowed = all(v.allowed for _, v in verdicts)
        notes = [f"budget: {sources['budget']}", f"local records: {state.local_records} ({sources['local records']})"]
        payload = {
            "ok": allowed,
            "allowed": allowed,
            "exit_code": int(ExitCode.OK if allowed else ExitCode.REFUSED_BY_POLICY),
            "apps": [_verdict_json(m, v) for m, v in verdicts],
            "notes": notes,
        }
        cli.emit(payload, _render_check(verdicts, state, notes))
    if not allowed:
        raise typer.Exit(int(ExitCode.REFUSED_BY_POLICY))


@policy_app.command("compile")
def compile_cmd(
    ctx: typer.Context,
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Site policy YAML (default: the site's).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="The site's NVFlare local/ folder (default: $FEDNODE_HOME/nvflare-kit/local).")
    ] = None,
    base_resources: Annotated[
        Path | None,
        typer.Option(help="Provisioned resources.json to merge into (default: OUT/resources.json.default)."),
    ] = None,
    validate: Annotated[bool, typer.Option(help="Build every class the files name before writing.")] = True,
) -> None:
    """Compile the site policy to NVFlare site files (privacy.json, authorization.json, resources.json)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from policies.compile import compile_site, load_base_resources, validate_site_files, write_site_files
        from policies.policy_model import policy_digest

        path, policy = _load(cli, policy_file)
        local = out or cli.settings.site_local_dir
        if base_resources is not None and not base_resources.is_file():  # only the default may be absent
            from fednode.errors import BadInputError

            problem = "not a file" if base_resources.exists() else "no such file"
            raise BadInputError(problem, file=f"--base-resources {base_resources}")
        base = load_base_resources(base_resources or local / "resources.json.default")
        files = compile_site(policy, base_resources=base)
        built = validate_site_files(files) if validate else {}
        from node.cli._audit import record, require_site
        from policies.audit import AuditEvent

        if local.exists() and not local.is_dir():
            from fednode.errors import BadInputError

            raise BadInputError("is a file, not the site's NVFlare local/ folder", file=f"--out {local}")
        require_site(cli)  # the compiled policy is recorded (its digest): before anything is written
        written = write_site_files(files, local)

        record(
            cli,
            AuditEvent.POLICY_COMPILED,
            {
                "command": "policy compile",
                "policy_digest": policy_digest(policy),
                "site": policy.site.name,
                "files": sorted(p.name for p in written),
                "validated": validate,
            },
        )
        payload = {
            "ok": True,
            "policy": str(path),
            "policy_digest": policy_digest(policy),
            "written": [str(p) for p in written],
            "validated": validate,
            "classes_built": built,
        }

        def render(console: Console) -> None:
            for p in written:
                console.print(f"wrote {p}")
            state = f"validated ({sum(built.values())} classes built)" if validate else "[yellow]not validated[/]"
            console.print(f"policy {policy_digest(policy)[:16]}: {state}")

        cli.emit(payload, render)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(policy_app, name="policy")
