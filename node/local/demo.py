"""`fednode demo`: a whole consortium on one machine, no Docker, real processes and real gRPC with mutual TLS.

Steps (each shown as it happens):

1. each hospital gets a home (``FEDNODE_HOME``), a site policy and its compiled NVFlare files;
2. NVFlare provisioning: a coordinator, the sites and an admin (:mod:`node.coordinator.provision`);
3. each hospital's data: its share of the NCBI-disease train sentences as clinical notes with synthetic PHI, and
   its share of the Synthea sample (:mod:`node.local.data`); then, as the site's operator would, ``fednode etl``
   (Synthea -> OMOP CDM, notes de-identified into NOTE / NOTE_NLP) and ``fednode dq`` (the data-quality gate);
4. the coordinator and the sites start; the NER study (or, with ``--job``, a researcher's own NVFlare job folder,
   :mod:`node.coordinator.byoc`) is submitted through the FLARE API and HELD: it stays submitted while every
   site records it as pending review;
5. approval at each site through the approval service (``--auto-approve``: a scripted approval recorded in each
   site's audit log; otherwise the demo waits for people using ``fednode approve`` or the dashboard);
6. training, with each round's metrics as the coordinator aggregates them (a BYOC job reads the data each site
   stages for it, :mod:`node.site.staging`);
7. the signed global model is downloaded, verified against the coordinator key pinned at the sites, and scored on
   the standard NCBI-disease test set (entity-level precision, recall and F1).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from fednode.errors import ConfigError, DataQualityError, ServiceError
from fednode.settings import Settings, load_settings
from node.coordinator.audit import previous_key_id, record_coordinator, record_provisioning
from node.coordinator.provision import SiteKit, provision_federation
from node.kit.layout import Federation
from node.kit.runtime import child_pythonpath
from node.local.data import NCBI_DIR, SiteData, prepare_sites
from node.local.harness import Steps
from policies.audit import AuditEvent
from policies.contracts import JobState

log = logging.getLogger("fednode.node.local.demo")

ADMIN = "admin@coordinator.org"
DEMO_ACTOR = "demo"
"""The actor of the coordinator's audit records the demo writes (provisioning, submission, download)."""
ADMIN_ORG = "coordinator"
APPROVER = "demo.approver"
DEMO_APPROVERS = (APPROVER, "dr.hansen")
"""The demo hospitals' approvers; each has an Ed25519 key of their own in the workdir (never in a site home)."""
APPROVER_KEYS = "approvers"
"""The folder of the workdir that holds the demo approvers' OpenSSH keys (``<name>``, ``<name>.pub``)."""
POLICY_TEMPLATE = resources.files("policies").joinpath("examples", "site-policy.yaml")
"""The example site policy every demo hospital starts from (package data of ``policies``)."""
DQ_ACCEPTED = resources.files("omop_etl.dq").joinpath("accepted_bundled_sample.txt")
"""The DQ failures the bundled sample is known to have (package data of ``omop_etl``)."""
DQ_ACCEPTED_SPLIT = (
    "# Splitting the 27-patient sample among sites concentrates codes the bundled vocabulary SUBSET lacks:\n"
    "standardConceptRecordCompleteness drug_exposure.drug_concept_id  # CVX vaccines are not in the subset\n"
    "sourceValueCompleteness procedure_occurrence.procedure_source_value  # unmapped in the subset\n"
    "standardConceptRecordCompleteness procedure_occurrence.procedure_concept_id  # the same codes\n"
    "standardConceptRecordCompleteness condition_occurrence.condition_concept_id  # 1 of 48 codes not in the subset\n"
    "sourceValueCompleteness condition_occurrence.condition_source_value  # the same code\n"
)
"""Known failures of a site's share of the bundled sample, beyond those of the whole sample (never real data)."""


DEMO_LIMITATIONS = (
    "A demonstration: public NCBI-disease abstracts split among simulated hospitals and posing as clinical notes, "
    "with synthetic patients. Not trained or tested on real clinical text; not for clinical use."
)
"""The model card's limitations section the demo's study is submitted with."""


@dataclass(frozen=True)
class DemoConfig:
    """How big the demo is. The defaults finish in under 20 minutes on 2 CPU cores."""

    sites: int = 3
    auto_approve: bool = False
    rounds: int = 3
    sentences: int = 3000
    test_sentences: int | None = None
    dev_sentences: int = 200
    """NCBI-disease devel sentences the coordinator scores each round's global model on (0: none)."""
    model_spec: str = "minilm"
    algorithm: str = "fedavg"
    min_clients: int | None = None
    local_epochs: int = 1
    batch_size: int = 16
    learning_rate: float | None = None
    """Local AdamW rate; default 1e-4 (MiniLM or a checkpoint), 3e-3 for the tiny random BERT."""
    job: Path | None = None
    """A researcher's NVFlare job folder (bring your own code) to run instead of the built-in study; ``rounds``
    replaces its server workflow's number of rounds, ``model_spec`` is the base checkpoint the sites stage."""
    workdir: Path | None = None
    approval_timeout_s: float = 3600.0
    training_timeout_s: float = 3600.0
    seed: int = 0
    secure_aggregation: bool = False
    """Pairwise-masking secure aggregation (the built-in study only): the coordinator learns only the sum."""

    def __post_init__(self) -> None:
        if self.sites < 1:
            raise ConfigError("the demo needs at least one site")


@dataclass
class DemoResult:
    """What the demo did and measured (numbers, names and paths only)."""

    workdir: str
    job_id: str = ""
    digest: str = ""
    sites: list[str] = field(default_factory=list)
    site_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    held_s: float = 0.0
    approval_to_run_s: float | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    test: dict[str, float] = field(default_factory=dict)
    model: str = ""
    signed_by: str = ""
    receipts: list[str] = field(default_factory=list)
    """Sites whose signed approval receipt the model's provenance holds, verified with each site's own key."""
    timings: dict[str, float] = field(default_factory=dict)
    secure_aggregation: dict[str, Any] = field(default_factory=dict)
    """The signed provenance's record of the securely aggregated rounds (empty when off)."""

    def to_json(self) -> dict[str, Any]:
        return {"ok": True, **self.__dict__}

    def render(self, console: Console) -> None:
        from rich.table import Table

        table = Table(title=f"fednode demo: job {self.job_id} ({len(self.sites)} sites)")
        for col in ("round", "sites", "mean train loss", "devel P", "devel R", "devel F1", "seconds"):
            table.add_column(col, overflow="fold")  # site names wrap, never cut
        for r in self.rounds:
            losses = [_loss(m) for m in r.get("metrics", {}).values()]
            mean = f"{sum(losses) / len(losses):.4f}" if losses else "-"
            g = r.get("global") or {}
            dev = [f"{g[k]:.3f}" if k in g else "-" for k in ("precision", "recall", "f1")]
            table.add_row(str(r["round"]), ", ".join(r["sites"]), mean, *dev, f"{r['seconds']:.1f}")
        console.print(table)
        t = self.test
        console.print(
            f"[bold]global model on the NCBI-disease test set[/bold]: precision {t.get('precision', 0):.3f}  "
            f"recall {t.get('recall', 0):.3f}  F1 {t.get('f1', 0):.3f}  ({int(t.get('support', 0))} mentions)"
        )
        console.print(f"model {self.model} (signature verified, key {self.signed_by})", soft_wrap=True)
        if self.approval_to_run_s is not None:
            console.print(
                f"approval to run: {self.approval_to_run_s:.1f} s; total {self.timings.get('total', 0):.0f} s"
            )


def site_policy(
    site: str, *, sites: int, min_records: int, byoc: bool = False, approver_keys: dict[str, str] | None = None
) -> dict[str, Any]:
    """The demo hospital's policy: the example policy with this federation's identities and one approval needed
    (``byoc``: jobs that bring their own code are allowed too). ``approver_keys`` (name: OpenSSH public key,
    :func:`demo_approver_keys`) enrols the approvers' keys, so approvals are signed; without them the policy
    trusts typed names (``identity: name``), for callers that never approve."""
    policy: dict[str, Any] = yaml.safe_load(POLICY_TEMPLATE.read_text(encoding="utf-8"))
    policy["site"]["name"] = site
    policy["site"]["organisation"] = f"Demo hospital {site}"
    policy["participants"] = {
        "coordinators": [{"name": "localhost", "org": ADMIN_ORG}],
        "submitters": [{"name": ADMIN, "org": ADMIN_ORG}],
    }
    policy["jobs"]["min_sites"] = min(sites, policy["jobs"].get("min_sites", sites))
    policy["jobs"]["min_local_records"] = min_records
    if byoc:
        policy["jobs"]["kinds"] = ["config_only", "byoc"]
    policy["privacy"]["dp"]["required"] = False  # the demo's study trains without DP-SGD
    policy["privacy"]["result_filters"] = [f for f in policy["privacy"]["result_filters"] if f["kind"] != "norm_clip"]
    policy["approval"] = {"approvers": list(DEMO_APPROVERS), "required_approvals": 1, "totp_required": False}
    if approver_keys:
        policy["approval"]["keys"] = dict(approver_keys)
    else:
        policy["approval"]["identity"] = "name"
    return policy


def demo_approver_keys(workdir: Path) -> dict[str, str]:
    """Each demo approver's OpenSSH Ed25519 key under ``workdir/approvers`` (made once, 0600; usable with
    ``ssh-add`` and ``ssh-keygen -Y sign``); their public keys by name, for the site policies."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = workdir / APPROVER_KEYS
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    public: dict[str, str] = {}
    for name in DEMO_APPROVERS:
        path = folder / name
        if not path.is_file():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
        key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
        line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        public[name] = f"{line.decode('ascii')} {name}@fednode-demo"
        path.with_name(f"{name}.pub").write_text(public[name] + "\n", encoding="ascii")
    return public


def _site_settings(home: Path, site: str) -> Settings:
    return load_settings(home=home, site_name=site)


def _compile_site(home: Path, site: str, policy: dict[str, Any]) -> SiteKit:
    from policies.compile import compile_site, validate_site_files
    from policies.policy_model import load_policy

    home.mkdir(parents=True, exist_ok=True)
    path = home / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    files = compile_site(load_policy(path))
    validate_site_files(files)
    return SiteKit(
        name=site,
        org=site.replace("-", "_"),
        local_files={"privacy.json": files.privacy, "authorization.json": files.authorization},
        components=files.resource_components,
        resources=files.resource_keys,
        public_key=_init_site_key(home, site),
    )


def _init_site_key(home: Path, site: str) -> str:
    """What `fednode site init` does at a hospital before provisioning: state.db and the site's signing key; its
    public key (PEM) is what provisioning pins at the coordinator."""
    from policies.keys import load_site_key
    from policies.state_db import init_site

    done = init_site(_site_settings(home, site))
    return load_site_key(done.key_file).public_pem


def _fednode(home: Path, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a ``fednode`` command as the site's operator would; return its JSON output."""
    cmd = [sys.executable, "-c", "from node.cli import main; main()", "--home", str(home), "--json", *args]
    proc = subprocess.run(  # noqa: S603  # our own CLI, fixed arguments
        cmd,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": child_pythonpath(env.get("PYTHONPATH"))},
        check=False,
        timeout=1800,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    payload: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    payload["_exit_code"] = proc.returncode
    if proc.returncode not in (0, 4) or not lines:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise ServiceError(f"`fednode {args[0]}` failed at {home.name} (exit {proc.returncode}): {' | '.join(tail)}")
    return payload


def _prepare_site_data(data: SiteData, home: Path, env: dict[str, str], steps: Steps) -> dict[str, Any]:
    site_env = {**env, "FEDNODE_HOME": str(home), "FEDNODE_SITE_NAME": data.site}
    etl = _fednode(home, ["etl", "--source", str(data.synthea), "--notes", str(data.notes)], site_env)
    if etl["_exit_code"] != 0:
        raise DataQualityError(f"{data.site}: ETL refused the data: {etl.get('message', '')}")
    notes = etl.get("notes", {})
    loaded = notes.get("load", {})
    accepted = home / "dq-accepted.txt"
    accepted.write_text(DQ_ACCEPTED.read_text(encoding="utf-8") + DQ_ACCEPTED_SPLIT, encoding="utf-8")
    dq = _fednode(home, ["dq", "--accept", str(accepted)], site_env)
    summary = dq.get("summary", {})
    if dq["_exit_code"] != 0:
        failed = [
            f"{c.get('check')} {c.get('table')}.{c.get('field') or c.get('concept_id') or ''}"
            for c in dq.get("checks", [])
            if c.get("status") == "fail"
        ]
        raise DataQualityError(f"{data.site}: the data-quality gate failed: {'; '.join(failed) or summary}")
    steps.say(
        f"  {data.site}: {data.notes_count} notes ({data.mentions} disease mentions), {data.patients} patients; "
        f"de-identified {notes.get('deid', {}).get('deidentified', '?')}, "
        f"loaded {loaded.get('inserted', '?')}; DQ gate passed ({summary.get('pass', 0)} checks)"
    )
    return {
        "notes": data.notes_count,
        "mentions": data.mentions,
        "patients": data.patients,
        "deid": notes.get("deid", {}),
        "dq": summary,
    }


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 1.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def site_state(home: Path, site: str, job_id: str) -> JobState | None:
    """The job's state in the site's registry; a refusal by the site's gate or policy stops the demo."""
    from fednode.errors import NotFoundError, RefusedByPolicyError
    from policies.state_db import open_state_db

    db = open_state_db(_site_settings(home, site))
    try:
        record = db.jobs.get(job_id)
    except NotFoundError:
        return None
    finally:
        db.close()
    if record.state in (JobState.REFUSED, JobState.REJECTED):
        raise RefusedByPolicyError(f"{site} {record.state.value} job {job_id}: {record.state_reason}")
    return record.state


def approve_as_demo(home: Path, site: str, job_id: str, *, workdir: Path | None = None) -> None:
    """The scripted approver approves ``job_id`` at ``site``: signed with their own key from the workdir
    (``home``'s ``../..``: homes are ``workdir/homes/<site>``) where the policy enrols keys."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from policies.approver_keys import SignedApproval, sign_ed25519
    from policies.state_db import open_state_db

    reason = "scripted approval: fednode demo --auto-approve"
    db = open_state_db(_site_settings(home, site), require_policy=True)
    try:
        if not db.jobs.rules.signed:
            db.jobs.approve(job_id, APPROVER, reason)
            return
        key_file = (workdir or home.parent.parent) / APPROVER_KEYS / APPROVER
        key = serialization.load_ssh_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{key_file}: the demo approver's key is not Ed25519")
        statement = db.jobs.statement(job_id).to_bytes()
        db.jobs.approve(job_id, None, reason, signed=SignedApproval(statement, sign_ed25519(key, statement)))
    finally:
        db.close()


def site_public_key(home: Path, site: str) -> str:
    """The site's own public key (PEM): what it checks its approval receipt in a model's provenance against."""
    from policies.state_db import open_state_db

    db = open_state_db(_site_settings(home, site))
    try:
        return db.key.public_pem
    finally:
        db.close()


def _evaluate(model_path: Path, model_spec: str, limit: int | None) -> dict[str, float]:
    from safetensors.torch import load_file

    from node.ml.ner.data import read_conll
    from node.ml.ner.evaluate import evaluate
    from node.ml.ner.model import load_ner_model

    model = load_ner_model(model_spec)
    test = read_conll(NCBI_DIR / "test.tsv", limit=limit)
    result = evaluate(load_file(str(model_path)), test, model=model)
    return {k: float(v) for k, v in result.metrics().items()}


def _loss(metrics: dict[str, Any]) -> float:
    value = metrics.get("train_loss", metrics.get("loss", float("nan")))
    return float(value) if isinstance(value, int | float) else float("nan")


def _round_printer(run_dir: Path, steps: Steps) -> Callable[[], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def poll() -> list[dict[str, Any]]:
        path = run_dir / "rounds.jsonl"
        if path.is_file():
            lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            for rec in lines[len(seen) :]:
                seen.append(rec)
                per_site = "; ".join(
                    f"{s} train loss {_loss(m):.4f}" for s, m in sorted(rec.get("metrics", {}).items())
                )
                g = rec.get("global") or {}
                dev = (
                    f"; global model on devel: P {g['precision']:.3f} R {g['recall']:.3f} F1 {g['f1']:.3f}"
                    if "f1" in g
                    else ""
                )
                steps.say(
                    f"  round {rec['round']} aggregated from {', '.join(rec['sites'])} in "
                    f"{rec['seconds']:.1f} s ({per_site}{dev})"
                )
        return seen

    return poll


_FLARE_ENV = (
    "HOME",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS",
    "TOKENIZERS_PARALLELISM",
    "FEDNODE_FL__TORCH_THREADS",
    "FEDNODE_FL__BASE_MODEL",
    "PATH",
)


def demo_environment(config: DemoConfig, workdir: Path) -> dict[str, str]:
    """The environment of the sites' `fednode` commands and NVFlare processes: an isolated ``HOME``, offline flags,
    this demo run's own de-identification secret (a site refuses to load surrogates into its CDM without one)."""
    nv_home = workdir / "nvflare-home"  # NVFlare writes ~/.nvflare: keep it out of the user's home
    nv_home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "FEDNODE_DEID__SECRET": os.environ.get("FEDNODE_DEID__SECRET") or secrets.token_hex(32),
        "HOME": str(nv_home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
        "TOKENIZERS_PARALLELISM": "false",
        # every site trains at once on this one machine: share the cores instead of oversubscribing them
        "FEDNODE_FL__TORCH_THREADS": str(max(1, (os.cpu_count() or 1) // config.sites)),
        # the base checkpoint whose tokenizer and config a BYOC job gets staged in model/ (the coordinator's too)
        "FEDNODE_FL__BASE_MODEL": config.model_spec,
        # a job's `python3` is this interpreter (with torch and transformers), as in a site image
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


@dataclass
class Consortium:
    """A provisioned demo consortium whose sites hold their data (processes not started yet)."""

    federation: Federation
    homes: dict[str, Path]
    env: dict[str, str]
    """Environment for the NVFlare processes (an isolated ``HOME``, offline flags)."""
    result: DemoResult


def prepare_consortium(config: DemoConfig, steps: Steps, *, extra_class_prefixes: tuple[str, ...] = ()) -> Consortium:
    """Steps 1-3: site policies, provisioning, each hospital's data through ETL, de-identification and DQ."""
    from node.coordinator.launcher import free_port

    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="fednode-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(workdir=str(workdir))
    sites = [f"site-{i}" for i in range(1, config.sites + 1)]
    result.sites = sites
    homes = {s: workdir / "homes" / s for s in sites}
    env = demo_environment(config, workdir)
    per_site = max(1, config.sentences // config.sites)
    with steps.step(f"policies for {config.sites} hospitals", result.timings, "policies"):
        keys = demo_approver_keys(workdir)  # the approvers' own keys: in the workdir, never in a site home
        kits = [
            _compile_site(
                homes[s],
                s,
                site_policy(
                    s,
                    sites=config.sites,
                    # the gate counts notes with a disease mention: about half of NCBI-disease's sentences
                    min_records=min(200, per_site // 4),
                    byoc=config.job is not None,
                    approver_keys=keys,
                ),
            )
            for s in sites
        ]
    with steps.step("provisioning (mutual TLS, gRPC)", result.timings, "provision"):
        old_key = previous_key_id(workdir / "federation")
        fed = provision_federation(
            workdir / "federation",
            kits,
            admin=ADMIN,
            admin_org=ADMIN_ORG,
            fl_port=free_port(),
            admin_port=free_port(),
            review_window_h=72.0,
            extra_class_prefixes=extra_class_prefixes,
            force=True,  # the demo's own federation: a rerun in the same --workdir provisions it afresh
        )
        record_provisioning(fed, old_key, actor=DEMO_ACTOR)  # the coordinator's own audit log
    with steps.step("hospital data: notes with synthetic PHI, Synthea split", result.timings, "data"):
        datasets = prepare_sites(sites, workdir / "data", sentences=config.sentences, seed=config.seed)
    with steps.step("ETL, de-identification and DQ gate at each site", result.timings, "etl"):
        for data in datasets:
            result.site_data[data.site] = _prepare_site_data(data, homes[data.site], env, steps)
    return Consortium(fed, homes, {k: env[k] for k in _FLARE_ENV}, result)


def _build_study(config: DemoConfig, sites: list[str], jobs_dir: Path) -> tuple[Path, str]:
    """The job folder to submit (manifest embedded) and its app digest: the built-in NER study, or ``config.job``."""
    from node.coordinator.study import StudySpec, build_job

    eval_set = str(NCBI_DIR / "devel.tsv") if config.dev_sentences else None
    if config.job is not None:
        from node.coordinator.byoc import prepare_byoc_job

        prepared = prepare_byoc_job(
            config.job,
            jobs_dir,
            sites=sites,
            model_spec=config.model_spec,
            rounds=config.rounds,
            eval_set=eval_set,
            eval_limit=config.dev_sentences or None,
        )
        return prepared.folder, prepared.digest
    spec = StudySpec(
        name="ncbi-disease-ner",
        sites=tuple(sites),
        rounds=config.rounds,
        min_clients=config.min_clients,
        algorithm=config.algorithm,
        model_spec=config.model_spec,
        local_epochs=config.local_epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate or (3e-3 if config.model_spec == "tiny" else 1e-4),
        seed=config.seed,
        eval_set=eval_set,
        eval_limit=config.dev_sentences or None,
        secure_aggregation=config.secure_aggregation,
        limitations=DEMO_LIMITATIONS,
    )
    return build_job(spec, jobs_dir)


def check_demo_inputs(config: DemoConfig) -> None:
    """Refuse what cannot work before any hospital is set up (exit 4, nothing created): a ``--job`` that is not an
    NVFlare job folder, a ``--model`` that is neither a known name nor a checkpoint folder, an unknown
    ``--algorithm`` (exit 2)."""
    from node.local.inputs import check_model_spec
    from node.ml.algorithms import check_algorithm

    if config.job is not None:
        from node.coordinator.byoc import check_job_folder

        check_job_folder(config.job)
    check_model_spec(config.model_spec)
    if config.job is None:  # a job folder brings its own server workflow; the built-in study names a rule
        check_algorithm(config.algorithm)
    if config.secure_aggregation:
        from node.ml.secagg import study_refusal

        if config.job is not None:
            raise ConfigError("--secure-aggregation: offered for the built-in study only, not with --job")
        refusal = study_refusal(config.algorithm, config.sites)
        if refusal is not None:
            raise ConfigError(f"--secure-aggregation: {refusal}")


def run_demo(config: DemoConfig, *, console: Console, progress: bool = True) -> DemoResult:
    """Run the whole demo; see the module docstring. Stops every process it started, whatever happens."""
    from node.coordinator.launcher import LocalFederation
    from node.coordinator.signing import verify_signed_model
    from node.coordinator.study import StudyClient

    check_demo_inputs(config)
    steps = Steps(console, progress)
    started = time.monotonic()
    consortium = prepare_consortium(config, steps)
    fed, homes, result = consortium.federation, consortium.homes, consortium.result
    sites, workdir = result.sites, Path(result.workdir)

    with LocalFederation(fed, site_homes=homes, env=consortium.env) as lf:
        with steps.step("starting the coordinator and the sites", result.timings, "start"):
            lf.start(timeout_s=300)
        job, result.digest = _build_study(config, sites, workdir / "jobs")
        client = StudyClient(fed)
        result.job_id = job_id = client.submit(job)
        details = {"job_id": job_id, "digest": result.digest, "sites": sorted(sites), "kind": "ner"}
        record_coordinator(fed, AuditEvent.STUDY_SUBMITTED, details, actor=DEMO_ACTOR)
        steps.say(f"study submitted: job {job_id}, app digest {result.digest[:16]}")

        t_hold = time.monotonic()
        _wait(
            lambda: all(site_state(homes[s], s, job_id) is not None for s in sites),
            300,
            "every site to record the job for review",
            poll_s=2,
        )
        status = client.status(job_id)
        steps.say(f"held: the job is {status.status} at the coordinator and pending review at every site")
        if config.auto_approve:
            for s in sites:
                approve_as_demo(homes[s], s, job_id, workdir=workdir)
                steps.say(f"  {s}: approved by {APPROVER}, signed with their own key (in the site's audit log)")
        else:
            keys = workdir / APPROVER_KEYS
            steps.say(f"approve the job at each site, signed with an approver's key ({keys}): load it with")
            steps.say(f"  ssh-add {keys / APPROVER}; then, in the dashboard or with:")
            for s in sites:
                steps.say(f"  fednode --home {homes[s]} approve {job_id} --reason '...'")
            _wait(
                lambda: all(
                    site_state(homes[s], s, job_id) in (JobState.APPROVED, JobState.RUNNING, JobState.FINISHED)
                    for s in sites
                ),
                config.approval_timeout_s,
                "approvals",
                poll_s=2,
            )
        approved_at = time.monotonic()
        result.held_s = round(approved_at - t_hold, 2)
        status = client.wait(job_id, until=lambda s: s.status != "SUBMITTED", timeout_s=300, poll_s=0.5)
        result.approval_to_run_s = round(time.monotonic() - approved_at, 2)
        steps.say(
            f"the coordinator scheduled the job {result.approval_to_run_s:.1f} s after the last approval: "
            f"{status.status}"
        )

        with steps.step(f"training {config.rounds} rounds", result.timings, "training"):
            poll = _round_printer(fed.server_dir / job_id, steps)

            def finished(s: Any) -> bool:
                poll()
                return bool(s.done)

            status = client.wait(job_id, until=finished, timeout_s=config.training_timeout_s, poll_s=2)
        if status.status != "FINISHED:COMPLETED":
            raise ServiceError(f"job {job_id} ended as {status.status}; see {fed.server_dir / 'log.txt'}")
        folder = client.download(job_id, workdir / "results")

    site_keys = {s: site_public_key(homes[s], s) for s in sites}
    verified = verify_signed_model(
        folder, [client.trusted_key()], expected_job_digest=result.digest, site_keys=site_keys
    )
    result.model, result.signed_by = str(verified.model_path), verified.key_id
    download = {
        "job_id": job_id,
        "job_digest": verified.provenance.job_digest,
        "model_signed_by": verified.key_id,
        "sites": list(verified.provenance.sites),
        "receipts_verified": list(verified.receipts_verified),
        "rounds": len(verified.provenance.rounds),
    }
    record_coordinator(fed, AuditEvent.STUDY_DOWNLOADED, download, actor=DEMO_ACTOR)
    result.receipts = list(verified.receipts_verified)
    result.secure_aggregation = dict(verified.provenance.secure_aggregation)
    if config.secure_aggregation and not result.secure_aggregation:
        raise ServiceError("the signed model does not record the secure aggregation the study asked for")
    if result.secure_aggregation:
        recovered = sorted({s for r in result.secure_aggregation.get("rounds", []) for s in r.get("recovered", [])})
        steps.say(
            f"securely aggregated: {len(result.secure_aggregation.get('rounds', []))} rounds in the provenance, "
            f"masks recovered for {', '.join(recovered) or 'no site'}"
        )
    from node.coordinator.study import read_rounds

    result.rounds = read_rounds(folder)
    steps.say(
        f"signed model verified (key {verified.key_id}); approval receipts in its provenance, each verified with "
        f"its site's own key: {', '.join(verified.receipts_verified) or 'none'}; scoring on the standard test set"
    )
    with steps.step("evaluating on NCBI-disease test", result.timings, "evaluate"):
        result.test = _evaluate(verified.model_path, config.model_spec, config.test_sentences)
    result.timings["total"] = round(time.monotonic() - started, 1)
    steps.say(f"everything is kept in {workdir}")
    return result


def remove_workdir(path: Path) -> None:
    """Delete a demo folder (tests, benchmarks)."""
    shutil.rmtree(path, ignore_errors=True)
