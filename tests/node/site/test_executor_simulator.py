"""The built-in trainer inside NVFlare's own simulator: two sites, tiny BERT, examples from a site CDM built from
data/ncbi-disease-mini, the coordinator's controller, two rounds, and the site's privacy.json (egress guard, schema
filter, norm clipping) in every site. Proves the executor loads from its JSON config in a job process, reads
settings at the edge (``FEDNODE_*``), trains, records its rounds, and that real updates pass the egress checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nvflare.app_common.default_component_policy import DEFAULT_CLASS_ALLOW_LIST

from fednode.settings import load_settings
from node.coordinator.provision import FEDNODE_CLASS_PREFIXES
from node.coordinator.study import StudySpec, build_job
from policies.manifest import build_manifests
from policies.registry import ApprovalRules, JobService
from policies.state_db import open_state_db
from tests.node.sitekit import ALLOW, build_cdm

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_two_sites_train_two_rounds_in_the_simulator(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cdm = build_cdm(home / "omop.db")
    spec = StudySpec(
        name="sim-ner",
        sites=("site-1", "site-2"),
        rounds=2,
        model_spec="tiny",
        batch_size=8,
        learning_rate=1e-3,
        wait_after_min_s=1,
        executor_args={"max_steps": 2},
    )
    job, _digest = build_job(spec, tmp_path / "jobs")
    env = {
        **os.environ,
        "HOME": str(tmp_path),  # NVFlare may write ~/.nvflare
        "FEDNODE_HOME": str(home),
        "FEDNODE_OMOP_URL": cdm,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    workspace = tmp_path / "sim"
    (workspace / "local").mkdir(parents=True)  # the simulator copies it into every site's local/
    resources = {"format_version": 2, "class_allow_list": [*DEFAULT_CLASS_ALLOW_LIST, *FEDNODE_CLASS_PREFIXES]}
    (workspace / "local" / "resources.json").write_text(json.dumps(resources), encoding="utf-8")
    (workspace / "local" / "privacy.json").write_text(json.dumps(PRIVACY), encoding="utf-8")
    jobs = _running_job(home, cdm, job)
    proc = subprocess.run(
        [sys.executable, "-m", "nvflare.cli", "simulator", "-w", str(workspace), "-n", "2", "-t", "2", str(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    logs = proc.stdout + proc.stderr
    assert proc.returncode == 0, logs[-4000:]
    rounds_files = list(workspace.rglob("rounds.jsonl"))
    assert rounds_files, logs[-4000:]
    rounds = [json.loads(line) for line in rounds_files[0].read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1]
    assert all(sorted(r["sites"]) == ["site-1", "site-2"] for r in rounds)
    for r in rounds:  # each site trained on its CDM examples and reported numbers only
        assert all(r["metrics"][site]["train_loss"] > 0 for site in ("site-1", "site-2")), r
    decisions = jobs.egress(SIM_JOB_ID)
    # 2 sites x (2 rounds + the cross-site evaluation of the final model), all passed
    assert len(decisions) == 6 and all(d.allowed for d in decisions), decisions
    reports = jobs.rounds(SIM_JOB_ID)
    assert [r.round for r in reports] == [0, 1, 2]
    assert any(k.startswith("xsite_") for k in reports[2].metrics)  # the validation figures, recorded at the site
    cards = list(workspace.rglob("model_card.json"))
    assert cards and json.loads(cards[0].read_text())["training"]["rounds_run"] == 2, logs[-4000:]


SIM_JOB_ID = "simulate_job"
"""The job id NVFlare's simulator runs every job under."""

PRIVACY = {
    "scopes": [
        {
            "name": "fednode",
            "properties": {},
            "task_data_filters": [],
            "task_result_filters": [
                {"path": "node.site.filters.EgressSchemaFilter", "args": {}},
                {"path": "node.site.filters.UpdateNormClip", "args": {"max_norm": 50.0}},
            ],
        }
    ],
    "default_scope": "fednode",
    "components": [{"id": "fednode_egress_guard", "path": "node.site.egress.guard.EgressGuard", "args": {}}],
}


def _running_job(home: Path, cdm: str, job: Path) -> JobService:
    """Register the job in the site's state.db as approved and running (what the gate does in a real site)."""
    state = open_state_db(load_settings(home=home, omop_url=cdm))
    jobs = JobService(
        state.store, state.audit, state.ledger, rules=ApprovalRules(approvers=("dr.test",), identity="name")
    )
    manifest = build_manifests(job, site="site-1", submitted_at=datetime.now(UTC))["app"]
    jobs.register_pending(replace(manifest, job_id=SIM_JOB_ID), ALLOW)
    jobs.approve(SIM_JOB_ID, "dr.test", "simulator test")
    jobs.mark_running(SIM_JOB_ID)
    return jobs
