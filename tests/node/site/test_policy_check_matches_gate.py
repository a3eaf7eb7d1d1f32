"""`fednode policy check` and the approval gate judge the same job in the same site state the same way: one live
state builder (``node.site.live_state``), one record count (``omop_etl.stats.local_record_count``), one manifest
(``policies.manifest``)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from fednode.settings import load_settings
from node.cli.main import app
from node.site.context import build_site_context
from omop_etl.cdm import create_cdm
from omop_etl.cdm.clinical import Person
from omop_etl.db import make_engine
from omop_etl.notes import DeidentifiedNote, load_notes
from policies.contracts import DpParams
from policies.manifest import embed_manifest, manifest_for_site
from policies.state_db import open_state_db

REPO = Path(__file__).resolve().parents[3]
JOB = REPO / "tests" / "policies" / "fixtures" / "clean_config_job"
POLICY = REPO / "policies" / "examples" / "site-policy.yaml"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SITE = "site-oslo"


def _cdm(url: str, annotated: int, plain: int) -> None:
    engine = make_engine(url)
    create_cdm(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [{"person_id": 1, "gender_concept_id": 0, "year_of_birth": 1970, "race_concept_id": 0,
              "ethnicity_concept_id": 0, "person_source_value": "p-1"}],
        )  # fmt: skip
    notes = [
        DeidentifiedNote(f"a-{i}", "p-1", date(2024, 1, 1), "Discharge", "Fever and cough.", "en", ((0, 5, "Disease"),))
        for i in range(annotated)
    ] + [
        DeidentifiedNote(f"p-{i}", "p-1", date(2024, 1, 1), "Letter", "Nothing to see.", "en", ()) for i in range(plain)
    ]
    load_notes(engine, notes)
    engine.dispose()


def _cli_results(job: Path) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(app, ["--json", "policy", "check", str(job), "--site", SITE, "--now", NOW.isoformat()])
    payload = json.loads(result.stdout)
    [verdict] = payload["apps"]
    return result.exit_code, verdict["results"]


@pytest.mark.parametrize(
    ("annotated", "plain", "reserved", "denied"),
    [
        (3, 0, 0.0, set()),
        (2, 5, 0.0, {"local_records"}),  # 7 NOTE rows but 2 annotated notes: the count is the gate's everywhere
        (3, 0, 7.0, {"privacy_budget"}),  # another job holds 7 of the 8 epsilon in the ledger
    ],
)
def test_policy_check_and_the_gate_agree(
    fednode_home: Path, tmp_path: Path, annotated: int, plain: int, reserved: float, denied: set[str]
) -> None:
    (fednode_home / "policy.yaml").write_text(
        POLICY.read_text().replace("min_local_records: 200", "min_local_records: 3"), encoding="utf-8"
    )
    settings = load_settings(home=fednode_home)
    _cdm(settings.omop_db_url, annotated, plain)
    db = open_state_db(settings)  # the site's state.db, as the site image creates it at boot
    if reserved:
        dp = DpParams(noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=reserved, delta=1e-5)
        db.ledger.reserve("other-job", "omop", dp, actor="test")
    db.close()
    job = Path(shutil.copytree(JOB, tmp_path / "job"))
    embed_manifest(job)

    code, cli_results = _cli_results(job)

    context = build_site_context(settings, clock=lambda: NOW)
    try:
        meta = {**json.loads((job / "meta.json").read_text()), "job_id": "job-1", "submit_time": NOW.timestamp()}
        verdict = context.evaluate(manifest_for_site(meta, SITE))
    finally:
        for close in context.closers:
            close()
    gate_results = [{"rule": r.rule, "outcome": r.outcome.value, "reason": r.reason} for r in verdict.results]

    assert cli_results == gate_results
    assert {r["rule"] for r in cli_results if r["outcome"] == "deny"} == denied
    assert code == (3 if denied else 0) and verdict.allowed == (not denied)
