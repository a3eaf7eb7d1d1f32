"""`fednode provision`, `fednode study submit|status|download`, `fednode demo` (the coordinator's side)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from node.cli._context import CliContext, get_ctx, handled_errors

if TYPE_CHECKING:
    from node.coordinator.study import StudyClient
    from node.kit.layout import Federation

study_app = typer.Typer(
    name="study", help="Submit a study to the consortium, follow it, download its signed model.", no_args_is_help=True
)

FederationOpt = Annotated[
    Path | None,
    typer.Option(
        "--federation",
        metavar="DIR",
        help="Folder written by `fednode provision` (default: $FEDNODE_HOME/federation).",
    ),
]


def _federation_root(cli: CliContext, given: Path | None) -> Path:
    return given or cli.settings.federation_dir


def _load(cli: CliContext, given: Path | None) -> Federation:
    """The provisioned federation; a missing or unreadable one is bad input (exit 4) that says how to get one."""
    from fednode.errors import BadInputError
    from node.kit.layout import FEDERATION_FILE, Federation

    path = _federation_root(cli, given) / FEDERATION_FILE
    if not path.is_file():
        raise BadInputError(
            "no provisioned federation here; create one with `fednode provision` (or pass --federation DIR)",
            file=str(path),
        )
    try:
        return Federation.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(
            f"not a federation file ({type(exc).__name__}); provision again with `fednode provision`", file=str(path)
        ) from None


def _record_coordinator(fed: Federation, event: Any, details: dict[str, Any]) -> None:
    """Append to the coordinator's audit log (:mod:`node.coordinator.audit`); a loud warning where its key is not
    on this machine (nothing recorded, nothing created)."""
    from node.cli._audit import operator_name
    from node.coordinator.audit import record_coordinator

    if record_coordinator(fed, event, details, actor=operator_name()) is None:
        _not_recorded(fed, event)


def _not_recorded(fed: Federation, event: Any) -> None:
    Console(stderr=True).print(
        f"[yellow]Warning:[/yellow] not recorded at the coordinator: its signing key is not here "
        f"({fed.server_dir}); this {event.value} is missing from the coordinator's audit log.",
        highlight=False,
        soft_wrap=True,
    )


def _client(cli: CliContext, fed: Federation) -> StudyClient:
    """The admin's client; it checks the admin kit and that the coordinator answers before NVFlare starts."""
    from node.coordinator.study import StudyClient

    return StudyClient(fed, connect_timeout_s=cli.settings.fl.connect_timeout_s)


@contextmanager
def _study_logs(cli: CliContext, federation: Path | None) -> Iterator[None]:
    """NVFlare's admin-API log lines and prints go to ``<federation>/logs/study.log``; one line says so."""
    from node.local.logs import routed_logs, where_logs_went

    route = None
    try:
        with routed_logs(
            _federation_root(cli, federation) / "logs", "study", level=cli.settings.log_level, capture_prints=True
        ) as route:
            yield
    finally:
        if route is not None:
            where_logs_went(route, Console(stderr=True))


@contextmanager
def _provision_logs(cli: CliContext, root: Path) -> Iterator[None]:
    """NVFlare's provisioning prints go to ``<federation>/logs/provision.log``; one line says so. A first
    provisioning that fails leaves no folder behind, its log included."""
    from node.local.logs import routed_logs, where_logs_went

    existed = root.exists()
    route = None
    try:
        with routed_logs(root / "logs", "provision", level=cli.settings.log_level, capture_prints=True) as route:
            yield
    except BaseException:
        if not existed:
            shutil.rmtree(root, ignore_errors=True)
        raise
    if route is not None:
        where_logs_went(route, Console(stderr=True))


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
    site_key: Annotated[
        list[str] | None,
        typer.Option(
            "--site-key",
            metavar="SITE=FILE",
            help="Pin that site's public key (the .pub its `fednode site init` made) at the coordinator and in "
            "its kit: the coordinator anchors the site's signed audit heads with it; repeatable.",
        ),
    ] = None,
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
        pins = _pinned_site_keys(site_key or [], {k.name for k in kits})
        kits = [replace(k, public_key=pins.get(k.name)) for k in kits]
        root = _federation_root(cli, out)
        from node.cli._audit import operator_name
        from node.coordinator.audit import previous_key_id, record_provisioning
        from policies.audit import AuditEvent

        old_key = previous_key_id(root)
        with _provision_logs(cli, root):
            fed = provision_federation(
                root,
                kits,
                project=project,
                admin=admin,
                server_host=server_host,
                fl_port=port,
                admin_port=port if admin_port is None else admin_port,
                review_window_h=cli.settings.fl.review_window_h,
                force=force,
            )
        if record_provisioning(fed, old_key, actor=operator_name()) is None:
            _not_recorded(fed, AuditEvent.FEDERATION_PROVISIONED)

        def human(console: Console) -> None:
            console.print(f"[green]provisioned[/green] {fed.project}: coordinator {fed.server_dir}")
            for name, path in fed.site_dirs.items():
                console.print(f"  site {name}: {path}")
            console.print(f"  admin {fed.admin_name}: {fed.admin_dir}")

        cli.emit({"ok": True, **fed.to_json()}, human)


def _record_submission(
    fed: Federation, job_id: str, digest: str, sites: Any, *, kind: str, rounds: int | None = None, algorithm: str = ""
) -> None:
    """The submission's record at the coordinator: job id, digest, sites (never data)."""
    from policies.audit import AuditEvent

    details: dict[str, Any] = {"job_id": job_id, "digest": digest, "sites": sorted(sites), "kind": kind}
    if rounds is not None:
        details.update(rounds=rounds, algorithm=algorithm)
    _record_coordinator(fed, AuditEvent.STUDY_SUBMITTED, details)


MAX_LIMITATIONS_CHARS = 20_000


def _limitations(path: Path | None) -> str:
    """The submitter's limitations text: required (usage error, exit 2), a readable, non-empty text file (exit 4)."""
    from fednode.errors import BadInputError, ConfigError
    from fednode.inputs import read_input_text

    if path is None:
        raise ConfigError(
            "--limitations FILE is required: the model card's limitations section, in the submitter's words "
            "(what the model was not trained or tested for)"
        )
    where = f"--limitations {path}"
    text = read_input_text(path, where=where, not_text="not a text file").strip()
    if not text:
        raise BadInputError("is empty: write the study's limitations", file=where)
    if len(text) > MAX_LIMITATIONS_CHARS:
        raise BadInputError(f"longer than {MAX_LIMITATIONS_CHARS} characters", file=where)
    return text


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
            metavar="DIR",
            help="Submit your own NVFlare job folder (bring your own code) instead of the built-in study; its "
            "server workflow's rounds apply, and --rounds, --algorithm and --local-epochs are not used.",
        ),
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", metavar="SITE", help="A participating site; default: all.")
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, metavar="N", help="Federated rounds.")] = 3,
    min_clients: Annotated[int | None, typer.Option(metavar="N", help="Quorum per round; default: every site.")] = None,
    algorithm: Annotated[
        str, typer.Option(metavar="NAME", help="fedavg, fedprox, scaffold, median, trimmed_mean, ...")
    ] = "fedavg",
    model: Annotated[
        str, typer.Option(metavar="NAME|DIR", help="minilm, tiny, or a checkpoint folder at every site.")
    ] = "minilm",
    local_epochs: Annotated[int, typer.Option(min=1, metavar="N", help="Local epochs per round at each site.")] = 1,
    max_examples: Annotated[
        int | None, typer.Option(metavar="N", help="Cap on training examples per site and round.")
    ] = None,
    root_set: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="fltrust: the coordinator's root set (CoNLL file there); default: bundled NCBI devel.",
        ),
    ] = None,
    root_size: Annotated[
        int, typer.Option(min=1, metavar="N", help="fltrust: root-set sentences used each round.")
    ] = 100,
    limitations: Annotated[
        Path | None,
        typer.Option(
            "--limitations",
            metavar="FILE",
            help="The model card's limitations, in your words (text or Markdown); required for the built-in "
            "study, shown to each site's reviewers.",
        ),
    ] = None,
    spread_threshold: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, metavar="F1", help="The model card flags a best-to-worst F1 spread above this."),
    ] = 0.1,
    secure_aggregation: Annotated[
        bool,
        typer.Option(
            "--secure-aggregation",
            help="Pairwise-masking secure aggregation: the coordinator learns only the sum of the sites' updates "
            "(fedavg/fedprox; docs/secure-aggregation.md).",
        ),
    ] = False,
    credit_min_score: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            metavar="SCORE",
            help="Leave out or down-weight a site whose creditability is below this (`fednode sites`).",
        ),
    ] = None,
    credit_action: Annotated[
        str, typer.Option(metavar="ACTION", help="With --credit-min-score: exclude or downweight.")
    ] = "exclude",
    schedule: Annotated[
        str,
        typer.Option(
            metavar="constant|linear",
            help="Learning rate within each site's local training: constant, or linear (10 % warm-up, then decay).",
        ),
    ] = "constant",
    head_lr: Annotated[
        float | None,
        typer.Option("--head-lr", metavar="RATE", help="Learning rate of the classifier and CRF at the sites."),
    ] = None,
    subword_labels: Annotated[
        str,
        typer.Option(
            "--subword-labels",
            metavar="first|continue",
            help="first: train on each word's first sub-word; continue: also the later pieces as its continuation.",
        ),
    ] = "first",
    federation: FederationOpt = None,
) -> None:
    """Build the NER study, or take your own job folder (manifest embedded, every site mandatory), and submit it
    through the FLARE API. The built-in study ends with cross-site evaluation and a signed model card."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.coordinator.study import StudySpec, build_job, sites_from

        if job_folder is not None:
            from node.coordinator.byoc import check_job_folder, prepare_byoc_job

            if secure_aggregation:
                from fednode.errors import ConfigError

                raise ConfigError("--secure-aggregation: offered for the built-in study only, not with a job folder")
            check_job_folder(job_folder)  # a folder that is not a job is refused before anything else (exit 4)
            fed = _load(cli, federation)
            sites_chosen = sites_from(site, fed)
            client = _client(cli, fed)
            client.check_reachable()  # before the job folder is prepared: a down coordinator leaves nothing behind
            with _study_logs(cli, federation):
                prepared = prepare_byoc_job(
                    job_folder, fed.root / "jobs", sites=sites_chosen, model_spec=model, study=name
                )
                job_id = client.submit(prepared.folder)
            _record_submission(fed, job_id, prepared.digest, sites_chosen, kind="byoc")
            cli.emit(
                {"ok": True, "job_id": job_id, **prepared.to_json()},
                lambda c: c.print(
                    f"submitted [bold]{job_id}[/bold] from {job_folder} (digest {prepared.digest[:12]}, "
                    f"{prepared.plan.algorithm}, {prepared.plan.rounds} rounds); each site must approve it:\n"
                    f"  fednode --home <site home> approve {job_id} --reason '...'"
                ),
            )
            return
        from node.ml.algorithms import check_algorithm
        from node.ml.fine_tuning import CLI_FLAGS, check_fine_tuning

        check_algorithm(algorithm)
        check_fine_tuning(schedule=schedule, head_lr=head_lr, subword_labels=subword_labels, names=CLI_FLAGS)
        if secure_aggregation:  # refused before anything is built: no silent fallback to clear updates
            from fednode.errors import ConfigError
            from node.ml.secagg import COMPATIBLE_AGGREGATORS, study_refusal

            if algorithm not in COMPATIBLE_AGGREGATORS:
                raise ConfigError(f"--secure-aggregation: {study_refusal(algorithm, 2)}")
        credit: dict[str, Any] = {}
        if credit_min_score is not None:
            from node.coordinator.credit import CreditConfig

            credit = {"min_score": credit_min_score, "action": credit_action}
            CreditConfig.from_args(credit, algorithm=algorithm)  # a policy the rule cannot apply: exit 2, first
        limitations_text = _limitations(limitations)  # required before anything is built (exit 2 / 4)
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
            limitations=limitations_text,
            spread_threshold=spread_threshold,
            secure_aggregation=secure_aggregation,
            credit=credit,
            schedule=schedule,
            head_lr=head_lr,
            subword_labels=subword_labels,
        )
        client = _client(cli, fed)
        client.check_reachable()  # before the job is built: a down coordinator leaves nothing behind
        with _study_logs(cli, federation):
            job, digest = build_job(spec, fed.root / "jobs")
            job_id = client.submit(job)
        _record_submission(fed, job_id, digest, spec.sites, kind="ner", rounds=rounds, algorithm=algorithm)
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
    """The job's state at the coordinator (SUBMITTED while sites review it, RUNNING, FINISHED:...) and, where the
    coordinator's credit record is on this machine, each site's figures in this job (`fednode sites`)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from rich.markup import escape

        from node.cli.commands_sites import job_credit, print_credit

        fed = _load(cli, federation)
        with _study_logs(cli, federation):
            status = _client(cli, fed).status(job_id)
        credit = job_credit(cli, fed, job_id)

        def human(c: Console) -> None:
            c.print(
                f"{job_id}: [bold]{status.status}[/bold] (schedule tries {status.schedule_count})"
                + (f"\n  last: {escape(status.last_schedule_reason)}" if status.last_schedule_reason else "")
                + (f"\n  why: {escape(status.failure)}" if status.failure else "")
            )
            if credit:
                print_credit(c, credit)

        cli.emit({"ok": True, **status.to_json(), "credit": credit}, human)


@study_app.command("resume")
def study_resume(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The interrupted job (FINISHED:ABANDONED after a restart).")],
    federation: FederationOpt = None,
) -> None:
    """Continue a study after the coordinator restarted: submit the same job bytes again, naming its first job;
    the coordinator goes on from its last checkpointed round and the sites need no new review (same digest and
    pinned meta, approval still valid under their policy)."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.coordinator.resume import resume_study

        fed = _load(cli, federation)
        client = _client(cli, fed)
        client.check_reachable()
        with tempfile.TemporaryDirectory(prefix="fednode-resume-") as tmp, _study_logs(cli, federation):
            resumed = resume_study(client, job_id, Path(tmp), workspaces=(cli.settings.nvflare_workspace,))
        from policies.audit import AuditEvent

        _record_coordinator(fed, AuditEvent.STUDY_SUBMITTED, {"kind": "resume", **resumed.to_json()})
        after = resumed.after_round
        where = f"after round {after + 1}" if after is not None else "from its last checkpointed round"
        cli.emit(
            {"ok": True, **resumed.to_json()},
            lambda c: c.print(
                f"resumed [bold]{resumed.resumed}[/bold] as [bold]{resumed.job_id}[/bold]: the study "
                f"(first job {resumed.first_job}) goes on {where}; sites carry their approval over"
            ),
        )


@study_app.command("anchors")
def study_anchors(
    ctx: typer.Context,
    site: Annotated[str | None, typer.Option("--site", help="Only this site's heads.")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write them as JSONL (a `fednode audit verify --anchors` file)."),
    ] = None,
    federation: FederationOpt = None,
) -> None:
    """The sites' signed audit heads the coordinator kept and countersigned (verified against each site's key
    pinned at provisioning). Exit 4 when none are kept."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from fednode.errors import BadInputError, NotFoundError
        from node.coordinator.anchors import kept_anchors

        if out is not None and not out.parent.is_dir():
            raise BadInputError("its folder does not exist", file=f"--out {out}")
        fed = _load(cli, federation)
        kept = kept_anchors([fed.server_dir, cli.settings.nvflare_workspace], site=site)
        if not kept:
            raise NotFoundError(
                f"the coordinator kept no audit heads{f' of {site}' if site else ''}: no site with a pinned key "
                "(`fednode provision --site-key`) has sent a result yet"
            )
        if out is not None:
            lines = [json.dumps(a.to_json(), sort_keys=True) for anchors in kept.values() for a in anchors]
            from fednode.atomic import write_text_atomic

            write_text_atomic(out, "\n".join(lines) + "\n")
        summary = {
            name: {"heads": len(anchors), "last_seq": max(a.head.seq for a in anchors)}
            for name, anchors in sorted(kept.items())
        }
        payload: dict[str, Any] = {"ok": True, "sites": summary, "out": str(out) if out else None}
        if out is None:
            payload["anchors"] = {name: [a.to_json() for a in anchors] for name, anchors in sorted(kept.items())}
        cli.emit(
            payload,
            lambda c: c.print(
                "\n".join(f"{n}: {v['heads']} heads kept, last seq {v['last_seq']}" for n, v in summary.items())
                + (f"\nwritten to {out}" if out else "")
            ),
        )


@study_app.command("download")
def study_download(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where to put the job result.")] = Path("results"),
    site_key: Annotated[
        list[str] | None,
        typer.Option(
            "--site-key",
            metavar="SITE=FILE",
            help="Verify that site's approval receipt and anchored audit head with its public key (PEM file); "
            "repeatable.",
        ),
    ] = None,
    base_model: Annotated[
        str | None,
        typer.Option(
            "--base-model",
            metavar="NAME|DIR",
            help="The architecture the study trained (default: the study's model_spec, else settings).",
        ),
    ] = None,
    federation: FederationOpt = None,
) -> None:
    """Download the result and verify the signed model against the pinned coordinator key (exit 5 if it fails).

    Its provenance names the sites whose signed approval receipts it holds; see --site-key. The model folder is
    completed for use at a site (config, tokenizer, labels.json, model.json) and verified again; hand it to
    `fednode ner predict --model DIR`."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.coordinator.signing import verify_signed_model
        from node.coordinator.study import read_rounds

        keys = _site_keys(site_key or [])
        fed = _load(cli, federation)
        client = _client(cli, fed)
        with _study_logs(cli, federation):
            folder = client.download(job_id, out)
        verified = verify_signed_model(folder, [client.trusted_key()], site_keys=keys)
        rounds = read_rounds(folder)
        from node.coordinator.model_folder import complete_model_folder, study_model_spec, verify_model_folder

        result_root = out / job_id if (out / job_id).is_dir() else out
        spec = base_model or study_model_spec(result_root) or str(cli.settings.fl.model_dir or "minilm")
        complete_model_folder(verified, spec)
        usable = verify_model_folder(folder, [client.trusted_key()])
        from policies.audit import AuditEvent

        download = {
            "job_id": job_id,
            "job_digest": verified.provenance.job_digest,
            "model_signed_by": verified.key_id,
            "sites": list(verified.provenance.sites),
            "receipts": list(verified.receipts),
            "receipts_verified": list(verified.receipts_verified),
            "rounds": len(verified.provenance.rounds),
        }
        _record_coordinator(fed, AuditEvent.STUDY_DOWNLOADED, download)
        payload: dict[str, Any] = {
            "ok": True,
            "model": str(verified.model_path),
            "signed_by": verified.key_id,
            "job_digest": verified.provenance.job_digest,
            "sites": list(verified.provenance.sites),
            "receipts": list(verified.receipts),
            "receipts_verified": list(verified.receipts_verified),
            "audit_heads": sorted(verified.provenance.audit_heads),
            "rounds": len(verified.provenance.rounds),
            "per_round": rounds,
            "model_folder": str(usable.folder),
            "nlp_system": usable.nlp_system,
            "model_card": _card_summary(folder, verified.provenance.attachments),
        }
        card_line = (
            f"\nmodel card ({payload['model_card']['findings']} finding(s)): `fednode model card {folder}`"
            if payload["model_card"]
            else ""
        )
        cli.emit(
            payload,
            lambda c: c.print(
                f"[green]verified[/green] {verified.model_path} (signed by {verified.key_id}, "
                f"{len(verified.provenance.rounds)} rounds, sites {', '.join(verified.provenance.sites)}; "
                f"signed approval receipts from {', '.join(verified.receipts) or 'no site'}"
                + (f", verified for {', '.join(verified.receipts_verified)})" if verified.receipts_verified else ")")
                + f"\nmodel folder {usable.folder}: `fednode ner predict --model {usable.folder}`"
                + card_line
            ),
        )


def _card_summary(folder: Path, attachments: Any) -> dict[str, Any] | None:
    """The signed model card's place and flags (the signature already covered its bytes), or None without one."""
    from node.coordinator.model_card import CARD_JSON, read_card

    if CARD_JSON not in attachments:
        return None
    card = read_card(folder, attachments)
    flagged = [s["dimension"] for s in card["evaluation"]["spreads"] if s["flagged"]]
    return {"file": str(folder / CARD_JSON), "findings": len(card["evaluation"]["findings"]), "flagged": flagged}


def _pinned_site_keys(entries: list[str], sites: set[str]) -> dict[str, str]:
    """``--site-key SITE=FILE`` for provisioning: site name -> Ed25519 public key PEM; a missing or unreadable
    file is bad input (exit 4), a malformed entry or an unknown site a usage error (exit 2)."""
    from fednode.errors import ConfigError
    from policies.keys import public_key_pem, read_public_key_file

    keys: dict[str, str] = {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--site-key {entry!r}: expected SITE=PUBLIC_KEY_FILE")
        if name not in sites:
            raise ConfigError(f"--site-key {name}: not one of the sites being provisioned ({', '.join(sorted(sites))})")
        keys[name] = public_key_pem(read_public_key_file(Path(path), option=f"--site-key {name}"))
    return keys


def _site_keys(entries: list[str]) -> dict[str, str]:
    """``SITE=FILE`` options to site name -> public key PEM text; a malformed entry is a usage error (exit 2), a
    missing, unreadable or binary key file bad input (exit 4) naming the option and the file."""
    from fednode.errors import ConfigError
    from policies.keys import public_key_pem, read_public_key_file

    keys: dict[str, str] = {}
    for entry in entries:
        site, sep, path = entry.partition("=")
        if not sep or not site or not path:
            raise ConfigError(f"--site-key {entry!r}: expected SITE=PUBLIC_KEY_FILE")
        keys[site] = public_key_pem(read_public_key_file(Path(path), option=f"--site-key {site}"))
    return keys


def demo(
    ctx: typer.Context,
    sites: Annotated[int, typer.Option("--sites", min=1, max=8, metavar="N", help="Number of hospitals.")] = 3,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Record a scripted approval in each site's audit log.")
    ] = False,
    rounds: Annotated[int, typer.Option(min=1, metavar="N", help="Federated rounds.")] = 3,
    sentences: Annotated[
        int, typer.Option(min=10, metavar="N", help="NCBI-disease train sentences shared among the sites.")
    ] = 3000,
    test_sentences: Annotated[
        int | None, typer.Option(metavar="N", help="Test sentences scored (default: all 940).")
    ] = None,
    dev_sentences: Annotated[
        int, typer.Option(min=0, metavar="N", help="Devel sentences the coordinator scores each round on (0: none).")
    ] = 200,
    local_epochs: Annotated[int, typer.Option(min=1, metavar="N", help="Local epochs per round at each site.")] = 1,
    lr: Annotated[
        float | None,
        typer.Option("--lr", metavar="RATE", help="Local AdamW rate (default 1e-4; 3e-3 for --model tiny)."),
    ] = None,
    model: Annotated[
        str, typer.Option(metavar="NAME|DIR", help="minilm (default), tiny, or a checkpoint folder.")
    ] = "minilm",
    algorithm: Annotated[str, typer.Option(metavar="NAME", help="Aggregation rule.")] = "fedavg",
    min_clients: Annotated[
        int | None, typer.Option(metavar="N", help="Quorum per round (default: every site).")
    ] = None,
    secure_aggregation: Annotated[
        bool,
        typer.Option(
            "--secure-aggregation",
            help="Pairwise-masking secure aggregation: the coordinator learns only the sum of the hospitals' "
            "updates (fedavg/fedprox, at least 2 sites).",
        ),
    ] = False,
    job: Annotated[
        Path | None,
        typer.Option(
            "--job",
            metavar="DIR",
            help="Run your own NVFlare job folder (bring your own code) instead of the built-in study; "
            "--rounds and --model apply; --lr, --local-epochs, --algorithm and --min-clients do not.",
        ),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Where the demo federation and its logs/ live (default: a new temp folder)."),
    ] = None,
    approval_timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="How long to wait for people to approve.")
    ] = 3600.0,
) -> None:
    """The local federation: provision, prepare each hospital's data, submit, approve, train, score.

    NVFlare's and the libraries' log lines go to <workdir>/logs/demo.log, not the console."""
    cli = get_ctx(ctx)
    with handled_errors(cli):
        from node.local.inputs import check_model_spec, check_out_dir

        check_model_spec(model)  # the cheap checks first, before NVFlare and torch load
        if workdir is not None:
            check_out_dir(workdir, "--workdir")
        if job is not None:
            from node.coordinator.byoc import check_job_folder

            check_job_folder(job)
        from node.local.demo import DemoConfig, run_demo
        from node.local.logs import pinned_console, routed_logs, where_logs_went

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
            secure_aggregation=secure_aggregation,
        )
        workdir = config.workdir or Path(tempfile.mkdtemp(prefix="fednode-demo-"))
        config = replace(config, workdir=workdir)
        progress = pinned_console(cli.console)  # prints by NVFlare and the libraries go to the log file
        route = None
        try:
            with routed_logs(
                workdir / "logs", "demo", level=cli.settings.log_level, capture_prints=True, ml=True
            ) as route:
                result = run_demo(config, console=progress, progress=not cli.json_output)
        finally:
            if route is not None:
                where_logs_went(route, Console(stderr=True))
        cli.emit(result.to_json(), result.render)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("provision")(provision)
    app.add_typer(study_app)
    app.command("demo")(demo)
