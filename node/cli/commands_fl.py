"""`fednode provision`, `fednode study submit|status|download`, `fednode demo` (the coordinator's side)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from rich.console import Console

    from node.kit.layout import Federation

study_app = typer.Typer(
    name="study", help="Submit a study to the consortium, follow it, download its signed model.", no_args_is_help=True
)

FederationOpt = Annotated[
    Path | None,
    typer.Option("--federation", help="Folder written by `fednode provision` (default: $FEDNODE_HOME/federation)."),
]


def _federation_root(cli: CliContext, given: Path | None) -> Path:
    return given or cli.settings.federation_dir


def _load(cli: CliContext, given: Path | None) -> Federation:
    from node.kit.layout import load_federation

    return load_federation(_federation_root(cli, given))


def provision(
    ctx: typer.Context,
    sites: Annotated[int, typer.Option("--sites", min=1, help="Number of sites (site-1 ... site-N).")] = 3,
    site: Annotated[list[str] | None, typer.Option("--site", help="A site as NAME or NAME:ORG; repeatable.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the kits (default: $FEDNODE_HOME/federation).")
    ] = None,
    project: Annotated[str, typer.Option(help="Project name.")] = "fednode",
    server_host: Annotated[
        str, typer.Option(help="The coordinator's host name (in its TLS certificate).")
    ] = "localhost",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="The coordinator's FL port (the one port any party opens).")
    ] = 8002,
    admin_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="The coordinator's admin port; default: the FL port (NVFlare shares one port for both).",
        ),
    ] = None,
    admin: Annotated[str, typer.Option(help="The project admin's identity (an e-mail).")] = "admin@coordinator.org",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a federation already in the folder: a new root CA and coordinator key; every kit already "
            "sent stops working.",
        ),
    ] = False,
) -> None:
    """Provision startup kits: a coordinator, the sites and an admin, mutual TLS over gRPC. A folder that already
    holds a federation is refused unless --force (it says what would be lost)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import ConfigError
        from node.coordinator.provision import SiteKit, provision_federation

        kits = []
        for entry in site or [f"site-{i}" for i in range(1, sites + 1)]:
            name, _, org = entry.partition(":")
            kits.append(SiteKit(name=name, org=org or name.replace("-", "_")))
        if not kits:
            raise ConfigError("no sites given")
        fed = provision_federation(
            _federation_root(cli, out),
            kits,
            project=project,
            admin=admin,
            server_host=server_host,
            fl_port=port,
            admin_port=port if admin_port is None else admin_port,
            review_window_h=cli.settings.fl.review_window_h,
            force=force,
        )

        def human(console: Console) -> None:
            console.print(f"[green]provisioned[/green] {fed.project}: coordinator {fed.server_dir}")
            for name, path in fed.site_dirs.items():
                console.print(f"  site {name}: {path}")
            console.print(f"  admin {fed.admin_name}: {fed.admin_dir}")

        cli.emit({"ok": True, **fed.to_json()}, human)


@study_app.command("submit")
def study_submit(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option(help="Study name (default: ner-study, or the job folder's meta.json name).")
    ] = None,
    job_folder: Annotated[
        Path | None,
        typer.Option(
            "--job-folder",
            help="Submit your own NVFlare job folder (bring your own code) instead of the built-in study; its "
            "server workflow's rounds apply and --rounds/--algorithm/--local-epochs are not used.",
        ),
    ] = None,
    site: Annotated[list[str] | None, typer.Option("--site", help="A participating site; default: all.")] = None,
    rounds: Annotated[int, typer.Option(min=1)] = 3,
    min_clients: Annotated[int | None, typer.Option(help="Quorum per round; default: every site.")] = None,
    algorithm: Annotated[str, typer.Option(help="fedavg, fedprox, scaffold, median, trimmed_mean, ...")] = "fedavg",
    model: Annotated[str, typer.Option(help="minilm, tiny, or a checkpoint folder at every site.")] = "minilm",
    local_epochs: Annotated[int, typer.Option(min=1)] = 1,
    max_examples: Annotated[int | None, typer.Option(help="Cap on training examples per site and round.")] = None,
    root_set: Annotated[
        str | None,
        typer.Option(help="fltrust: the coordinator's root set (CoNLL file there); default: bundled NCBI devel."),
    ] = None,
    root_size: Annotated[int, typer.Option(min=1, help="fltrust: root-set sentences used each round.")] = 100,
    federation: FederationOpt = None,
) -> None:
    """Build the NER study, or take your own job folder (manifest embedded, every site mandatory), and submit it
    through the FLARE API."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.coordinator.study import StudyClient, StudySpec, build_job, sites_from

        if job_folder is not None:
            from node.coordinator.byoc import check_job_folder, prepare_byoc_job

            check_job_folder(job_folder)  # a folder that is not a job is refused before anything else (exit 4)
            fed = _load(cli, federation)
            prepared = prepare_byoc_job(
                job_folder, fed.root / "jobs", sites=sites_from(site, fed), model_spec=model, study=name
            )
            job_id = StudyClient(fed).submit(prepared.folder)
            cli.emit(
                {"ok": True, "job_id": job_id, **prepared.to_json()},
                lambda c: c.print(
                    f"submitted [bold]{job_id}[/bold] from {job_folder} (digest {prepared.digest[:12]}, "
                    f"{prepared.plan.algorithm}, {prepared.plan.rounds} rounds); each site must approve it:\n"
                    f"  fednode --home <site home> approve {job_id} --reason '...'"
                ),
            )
            return
        fed = _load(cli, federation)
        spec = StudySpec(
            name=name or "ner-study",
            sites=sites_from(site, fed),
            rounds=rounds,
            min_clients=min_clients,
            algorithm=algorithm,
            model_spec=model,
            local_epochs=local_epochs,
            max_examples=max_examples,
            root_set=root_set,
            root_size=root_size,
        )
        job, digest = build_job(spec, fed.root / "jobs")
        job_id = StudyClient(fed).submit(job)
        cli.emit(
            {"ok": True, "job_id": job_id, "digest": digest, "sites": list(spec.sites), "job_folder": str(job)},
            lambda c: c.print(
                f"submitted [bold]{job_id}[/bold] (digest {digest[:12]}); each site must approve it:\n"
                f"  fednode --home <site home> approve {job_id} --reason '...'"
            ),
        )


@study_app.command("status")
def study_status(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job id `study submit` printed.")],
    federation: FederationOpt = None,
) -> None:
    """The job's state at the coordinator (SUBMITTED while sites review it, RUNNING, FINISHED:...)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from rich.markup import escape

        from node.coordinator.study import StudyClient

        status = StudyClient(_load(cli, federation)).status(job_id)
        cli.emit(
            {"ok": True, **status.to_json()},
            lambda c: c.print(
                f"{job_id}: [bold]{status.status}[/bold] (schedule tries {status.schedule_count})"
                + (f"\n  last: {escape(status.last_schedule_reason)}" if status.last_schedule_reason else "")
                + (f"\n  why: {escape(status.failure)}" if status.failure else "")
            ),
        )


@study_app.command("download")
def study_download(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    out: Annotated[Path, typer.Option("--out", help="Where to put the job result.")] = Path("results"),
    site_key: Annotated[
        list[str] | None,
        typer.Option("--site-key", help="SITE=PUBLIC_KEY_PEM_FILE: verify that site's approval receipt; repeatable."),
    ] = None,
    federation: FederationOpt = None,
) -> None:
    """Download the result and verify the signed model against the pinned coordinator key (exit 5 if it fails).

    The provenance names the sites whose signed approval receipts it holds; with ``--site-key`` each given site's
    receipt must verify against its public key."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.coordinator.signing import verify_signed_model
        from node.coordinator.study import StudyClient, read_rounds

        keys = _site_keys(site_key or [])
        client = StudyClient(_load(cli, federation))
        folder = client.download(job_id, out)
        verified = verify_signed_model(folder, [client.trusted_key()], site_keys=keys)
        rounds = read_rounds(folder)
        payload: dict[str, Any] = {
            "ok": True,
            "model": str(verified.model_path),
            "signed_by": verified.key_id,
            "job_digest": verified.provenance.job_digest,
            "sites": list(verified.provenance.sites),
            "receipts": list(verified.receipts),
            "receipts_verified": list(verified.receipts_verified),
            "rounds": len(verified.provenance.rounds),
            "per_round": rounds,
        }
        cli.emit(
            payload,
            lambda c: c.print(
                f"[green]verified[/green] {verified.model_path} (signed by {verified.key_id}, "
                f"{len(verified.provenance.rounds)} rounds, sites {', '.join(verified.provenance.sites)}; "
                f"signed approval receipts from {', '.join(verified.receipts) or 'no site'}"
                + (f", verified for {', '.join(verified.receipts_verified)})" if verified.receipts_verified else ")")
            ),
        )


def _site_keys(entries: list[str]) -> dict[str, str]:
    """``SITE=FILE`` options to site name -> public key PEM text."""
    from fednode.errors import ConfigError

    keys: dict[str, str] = {}
    for entry in entries:
        site, sep, path = entry.partition("=")
        if not sep or not site or not path:
            raise ConfigError(f"--site-key {entry!r}: expected SITE=PUBLIC_KEY_FILE")
        try:
            keys[site] = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--site-key {site}: cannot read {path} ({type(exc).__name__})") from exc
    return keys


def demo(
    ctx: typer.Context,
    sites: Annotated[int, typer.Option("--sites", min=1, max=8, help="Number of hospitals.")] = 3,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Record a scripted approval in each site's audit log.")
    ] = False,
    rounds: Annotated[int, typer.Option(min=1, help="Federated rounds.")] = 3,
    sentences: Annotated[int, typer.Option(min=10, help="NCBI-disease train sentences shared among the sites.")] = 3000,
    test_sentences: Annotated[int | None, typer.Option(help="Test sentences scored (default: all 940).")] = None,
    dev_sentences: Annotated[
        int, typer.Option(min=0, help="Devel sentences the coordinator scores each round on (0: none).")
    ] = 200,
    local_epochs: Annotated[int, typer.Option(min=1, help="Local epochs per round at each site.")] = 1,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Local AdamW rate (default 1e-4; 3e-3 for --model tiny).")
    ] = None,
    model: Annotated[str, typer.Option(help="minilm (default), tiny, or a checkpoint folder.")] = "minilm",
    algorithm: Annotated[str, typer.Option(help="Aggregation rule.")] = "fedavg",
    min_clients: Annotated[int | None, typer.Option(help="Quorum per round (default: every site).")] = None,
    job: Annotated[
        Path | None,
        typer.Option(
            "--job",
            help="Run your own NVFlare job folder (bring your own code) instead of the built-in study; "
            "--rounds and --model apply, --lr/--local-epochs/--algorithm/--min-clients do not.",
        ),
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Where the demo federation lives (default: a temp folder).")
    ] = None,
    approval_timeout: Annotated[float, typer.Option(help="Seconds to wait for people to approve.")] = 3600.0,
) -> None:
    """The local federation: provision, prepare each hospital's data, submit, approve, train, score."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.local.demo import DemoConfig, run_demo

        config = DemoConfig(
            sites=sites,
            auto_approve=auto_approve,
            rounds=rounds,
            sentences=sentences,
            test_sentences=test_sentences,
            dev_sentences=dev_sentences,
            local_epochs=local_epochs,
            learning_rate=lr,
            model_spec=model,
            algorithm=algorithm,
            min_clients=min_clients,
            job=job,
            workdir=workdir,
            approval_timeout_s=approval_timeout,
        )
        result = run_demo(config, console=cli.console, progress=not cli.json_output)
        cli.emit(result.to_json(), result.render)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("provision")(provision)
    app.add_typer(study_app)
    app.command("demo")(demo)
