"""Builders for the site-component tests (gate, validator, egress, filters): a real job folder with an embedded
manifest, a real job registry on a temporary state.db, NVFlare FLContexts as NVFlare fills them. Not a test module.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import AdminCommandNames, FLContextKey, ReservedKey
from nvflare.apis.fl_context import FLContext
from sqlalchemy import insert

from node.ml.ner.data import read_conll
from node.site.context import SiteContext
from node.site.gate import ApprovalGate
from omop_etl.cdm import create_cdm
from omop_etl.cdm.clinical import Person
from omop_etl.db import make_engine
from omop_etl.notes import DeidentifiedNote, load_notes
from policies.contracts import JobManifest, RuleOutcome, RuleResult, Verdict
from policies.manifest import embed_manifest
from tests.policies.statekit import Site, make_site

MINI_TRAIN = Path(__file__).resolve().parents[2] / "data" / "ncbi-disease-mini" / "train.tsv"
SITE = "site-a"
SITES = ("site-a", "site-b", "site-c")
SUBMITTER = ("lead@karolinska.example", "Karolinska Institutet")

POLICY_DIGEST = "5d" * 32
"""A sha256 in hex, as ``policies.policy_model.policy_digest`` gives (receipts carry it; the egress guard checks it)."""
ALLOW = Verdict(True, (RuleResult("ethics_approval", RuleOutcome.ALLOW, "in force"),), policy_digest=POLICY_DIGEST)
DENY = Verdict(
    False, (RuleResult("job_kind", RuleOutcome.DENY, "byoc is not allowed here"),), policy_digest=POLICY_DIGEST
)
WINDOW = Verdict(
    False, (RuleResult("time_window", RuleOutcome.DENY, "outside the allowed window"),), policy_digest=POLICY_DIGEST
)

CLIENT_CONFIG = {
    "format_version": 2,
    "executors": [{"tasks": ["train"], "executor": {"path": "node.site.executor.NerExecutor", "args": {}}}],
    "task_result_filters": [],
    "task_data_filters": [],
    "components": [],
}
SERVER_CONFIG = {
    "format_version": 2,
    "workflows": [{"id": "sag", "path": "nvflare.app_common.workflows.fedavg.FedAvg", "args": {"num_rounds": 3}}],
    "components": [],
}


def make_job(
    root: Path, *, name: str = "ner-study", extra_files: dict[str, bytes] | None = None, dataset: str = "omop"
) -> Path:
    """An exported NVFlare job folder (one app for every site) with the fednode manifest embedded."""
    job = root / name
    config = job / "app" / "config"
    config.mkdir(parents=True)
    (config / "config_fed_client.json").write_text(json.dumps(CLIENT_CONFIG, indent=2), encoding="utf-8")
    (config / "config_fed_server.json").write_text(json.dumps(SERVER_CONFIG, indent=2), encoding="utf-8")
    for rel, data in (extra_files or {}).items():
        path = job / "app" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    meta = {
        "name": name,
        "resource_spec": {},
        "min_clients": 3,
        "mandatory_clients": list(SITES),
        "deploy_map": {"app": ["server", *SITES]},
        "custom_props": {"fednode": {"study": "ncbi-ner", "rounds": 3, "dataset": dataset}},
        "submitter_name": SUBMITTER[0],
        "submitter_org": SUBMITTER[1],
        "submitter_role": "lead",
    }
    (job / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    embed_manifest(job)
    return job


def server_meta(job: Path, job_id: str, **changes: Any) -> dict[str, Any]:
    """The meta as the server holds it after submission: the folder's meta.json plus what the server adds."""
    meta = json.loads((job / "meta.json").read_text(encoding="utf-8"))
    meta.update({"job_id": job_id, "submit_time": 1_790_000_000.0, "status": "SUBMITTED", "schedule_count": 2})
    meta.update(changes)
    return meta


def deploy_app(job: Path, workspace: Path, job_id: str, site: str = SITE) -> Path:
    """Unzip-equivalent of NVFlare's deploy: ``<workspace>/<job_id>/app_<site>``, signature files in every folder."""
    app_dir = workspace / job_id / f"app_{site}"
    shutil.copytree(job / "app", app_dir)
    for folder in [app_dir, *[p for p in app_dir.rglob("*") if p.is_dir()]]:
        (folder / ".__nvfl_sig.json").write_text('{"random": "per submission"}', encoding="utf-8")
        (folder / ".__nvfl_submitter.crt").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    return app_dir


def context_for(
    site: Site, *, verdict: Verdict | Callable[[JobManifest], Verdict] = ALLOW, timeout_s: float = 5.0
) -> SiteContext:
    evaluate = verdict if callable(verdict) else (lambda _m: verdict)
    return SiteContext(site_name=SITE, jobs=site.jobs, evaluate=evaluate, check_timeout_s=timeout_s)


def new_site(tmp_path: Path, *, required: int = 1) -> Site:
    return make_site(tmp_path / "state.db", required=required, budget=8.0)


def ctx(*, site: str = SITE, job_id: str | None = None) -> FLContext:
    """A context as NVFlare's client engine makes one: identity set, job id for the resource check."""
    fl_ctx = FLContext()
    fl_ctx.set_prop(ReservedKey.IDENTITY_NAME, site, private=False, sticky=False)
    if job_id is not None:
        fl_ctx.set_prop(FLContextKey.CURRENT_JOB_ID, job_id, private=True, sticky=False)
    return fl_ctx


def authorize_ctx(command: str, meta: dict[str, Any]) -> FLContext:
    """The context of ``AUTHORIZE_COMMAND_CHECK`` (``nvflare.private.fed.client.admin``)."""
    fl_ctx = ctx()
    fl_ctx.set_prop(FLContextKey.COMMAND_NAME, command, sticky=False)
    fl_ctx.set_prop(FLContextKey.SECURITY_ITEMS, {FLContextKey.JOB_META: meta}, private=True, sticky=False)
    return fl_ctx


CHECK = AdminCommandNames.CHECK_RESOURCES
DEPLOY = AdminCommandNames.SUBMIT_JOB


def gate_check(gate: ApprovalGate, meta: dict[str, Any]) -> str | None:
    """One scheduling attempt as NVFlare runs it: authorize (meta), then the resource-manager check (job id)."""
    gate.handle_event(EventType.AUTHORIZE_COMMAND_CHECK, authorize_ctx(CHECK, meta))
    fl_ctx = ctx(job_id=str(meta["job_id"]))
    gate.handle_event(EventType.BEFORE_CHECK_RESOURCE_MANAGER, fl_ctx)
    reason = fl_ctx.get_prop(FLContextKey.JOB_BLOCK_REASON)
    return str(reason) if reason else None


def gate_deploy(gate: ApprovalGate, meta: dict[str, Any]) -> str | None:
    """The deploy command's authorization: None when allowed, else the reason given."""
    fl_ctx = authorize_ctx(DEPLOY, meta)
    gate.handle_event(EventType.AUTHORIZE_COMMAND_CHECK, fl_ctx)
    if fl_ctx.get_prop(FLContextKey.AUTHORIZATION_RESULT, True):
        return None
    return str(fl_ctx.get_prop(FLContextKey.AUTHORIZATION_REASON))


def job_events(site: Site, job_id: str) -> list[str]:
    """The audit events of one job, in order."""
    return [r.event for r in site.audit.records() if r.job_id == job_id]


def ncbi_notes(limit: int = 24, per_note: int = 4) -> list[DeidentifiedNote]:
    """NCBI-disease sentences as de-identified notes with gold Disease spans (character offsets)."""
    examples = read_conll(MINI_TRAIN, limit=limit)
    notes = []
    for n in range(0, len(examples), per_note):
        text, spans = "", []
        for ex in examples[n : n + per_note]:
            start: int | None = None
            last_end = len(text)
            for token, tag in zip(ex.tokens, ex.tags, strict=True):
                if start is not None and not tag.startswith("I-"):
                    spans.append((start, last_end, "Disease"))
                    start = None
                if text and not text.endswith("\n"):
                    text += " "
                if tag != "O" and start is None:
                    start = len(text)
                text += token
                last_end = len(text)
            if start is not None:
                spans.append((start, last_end, "Disease"))
            text += "\n"
        notes.append(DeidentifiedNote(f"n{n}", "p1", date(2024, 1, 2), "abstract", text, "en", tuple(spans)))
    return notes


def build_cdm(db: Path) -> str:
    """A SQLite OMOP CDM holding the notes of :func:`ncbi_notes` (one person); returns its URL."""
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    create_cdm(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person).values(
                person_id=1,
                gender_concept_id=0,
                year_of_birth=1970,
                race_concept_id=0,
                ethnicity_concept_id=0,
                person_source_value="p1",
            )
        )
    report = load_notes(engine, ncbi_notes())
    engine.dispose()
    if report.loaded == 0 or report.nlp_rows == 0:
        raise RuntimeError("the test CDM did not load")
    return url
