"""The review facts of a BYOC job (node.site.byoc_review): sandbox, staged data, site DP, findings by severity."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from node.site.byoc_review import CODE_FOLDER, SYSTEM_FILES, byoc_review
from policies.contracts import (
    DpParams,
    Finding,
    JobKind,
    JobManifest,
    JobRecord,
    JobState,
    ManifestFile,
    RuleOutcome,
    RuleResult,
    Verdict,
)
from policies.ledger import epsilon_of
from policies.manifest import files_digest
from policies.policy_model import SitePolicy, parse_policy

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "byoc-ner" / "app"
T0 = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
NER_ACCESS = {
    "note": ("note_id", "note_text"),
    "note_nlp": ("note_id", "offset", "lexical_variant", "term_modifiers", "nlp_system"),
}


def policy(**dp: Any) -> SitePolicy:
    data: dict[str, Any] = yaml.safe_load((REPO / "policies" / "examples" / "site-policy.yaml").read_text())
    data["jobs"]["kinds"] = ["config_only", "byoc"]
    data["jobs"]["min_local_records"] = 100
    data["privacy"]["dp"].update(dp)
    data["sandbox"] = {"memory_mib": 4096, "max_processes": 64, "wall_minutes": 90, "cpu_minutes": 60}
    return parse_policy(data)


def record(
    *,
    kind: JobKind = JobKind.BYOC,
    findings: tuple[Finding, ...] = (),
    access: dict[str, tuple[str, ...]] | None = None,
    files: dict[str, str] | None = None,
) -> JobRecord:
    contents = files if files is not None else {str(p.relative_to(EXAMPLE)): p.read_text() for p in _app_files()}
    entries = tuple(
        ManifestFile(path, hashlib.sha256(t.encode()).hexdigest(), len(t.encode()), t)
        for path, t in sorted(contents.items())
    )
    manifest = JobManifest(
        job_id="job-b",
        study="ner-byoc",
        app_name="app",
        digest=files_digest(entries),
        files=entries,
        kind=kind,
        submitter="lead@karolinska.example / Karolinska Institutet",
        submitted_at=T0,
        rounds=5,
        min_clients=3,
        data_access=NER_ACCESS if access is None else access,
        dp=DpParams(noise_multiplier=1.1, max_grad_norm=1.0, target_epsilon=1.5, delta=1e-5),
        dataset="omop_notes",
    )
    verdict = Verdict(True, (RuleResult("code_scan", RuleOutcome.ALLOW, "ok"),), findings)
    return JobRecord("job-b", JobState.PENDING, manifest, verdict, (), 2, T0, T0)


def _app_files() -> list[Path]:
    return sorted(p for p in EXAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_the_example_job_runs_its_script_confined_with_the_policys_limits() -> None:
    review = byoc_review(record(), policy(), local_records=412)

    assert review.byoc and review.config_problem is None
    assert review.script == f"{CODE_FOLDER}/client.py --data_dir data --model_dir model"
    access = {p.path: p.access for p in review.paths}
    assert access["."] == "read-write"
    assert access["data/"] == access["model/"] == access[f"{CODE_FOLDER}/"] == "read-only"
    assert "state.db" in review.never and any("keys/" in n for n in review.never)
    assert review.network.startswith("none") and "loopback" in review.network
    limits = review.limits
    assert (limits.memory_mib, limits.max_processes, limits.wall_minutes, limits.cpu_minutes) == (4096, 64, 90, 60)


def test_staged_data_names_the_tables_columns_and_the_live_count() -> None:
    review = byoc_review(record(), policy(), local_records=412)

    staged = review.staged
    assert staged.files[:2] == ("data/train.tsv", "data/dev.tsv")
    assert {t.table: t.columns for t in staged.tables} == NER_ACCESS
    assert (staged.records, staged.min_records, staged.refusal) == (412, 100, None)


def test_a_job_without_a_needed_column_is_told_nothing_would_be_staged() -> None:
    access = {"note": ("note_id", "note_text"), "note_nlp": ("note_id", "offset")}
    review = byoc_review(record(access=access), policy(), local_records=None)

    assert review.staged.records is None
    assert review.staged.refusal is not None
    assert "job's declared data_access" in review.staged.refusal
    assert "note_nlp.lexical_variant" in review.staged.refusal


def test_site_dp_shows_noise_clip_and_the_epsilon_the_site_charges() -> None:
    review = byoc_review(record(), policy(site_noise_multiplier=4.0, site_clip_norm=0.5), local_records=412)

    dp = review.site_dp
    assert dp.applied and dp.required
    assert (dp.noise_multiplier, dp.clip_norm, dp.declared_epsilon) == (4.0, 0.5, 1.5)
    expected = epsilon_of([(2.0, 1.0, 5)], 1e-5, "prv")  # sensitivity 2 * clip: multiplier 4 / 2, 5 rounds
    assert dp.epsilon == pytest.approx(expected)
    assert math.isfinite(expected) and expected > 0
    assert "x4" in dp.summary and "not trusted" in dp.summary


def test_no_site_noise_where_dp_is_not_required_and_a_denial_where_it_is_but_unset() -> None:
    off = byoc_review(record(), policy(required=False), local_records=412).site_dp
    unset = byoc_review(record(), policy(), local_records=412).site_dp

    assert not off.applied and not off.required and off.epsilon is None
    assert not unset.applied and unset.required
    assert "site_noise_multiplier" in unset.summary


def test_findings_are_split_into_denials_and_warnings() -> None:
    warn = Finding("custom/client.py", 12, "filesystem", "open() on a computed path", severity="warn")
    deny = Finding("custom/client.py", 3, "network", "import of socket", severity="deny")
    review = byoc_review(record(findings=(warn, deny)), policy(), local_records=412)

    assert review.warnings == (warn,)
    assert review.denials == (deny,)
    data = review.to_json()
    assert json.loads(json.dumps(data))["warnings"][0]["severity"] == "warn"
    assert data["staged"]["records"] == 412


def test_a_config_that_cannot_run_confined_says_why() -> None:
    config = {"format_version": 2, "executors": [{"tasks": ["*"], "executor": {"path": "custom.Trainer"}}]}
    files = {"config/config_fed_client.json": json.dumps(config), "custom/train.py": "print(1)\n"}
    review = byoc_review(record(files=files), policy(), local_records=412)

    assert review.script is None
    assert review.config_problem


def test_a_config_only_job_has_no_code_to_confine() -> None:
    review = byoc_review(record(kind=JobKind.CONFIG_ONLY), policy(), local_records=412)

    assert not review.byoc and review.script is None
    assert not review.site_dp.applied
    assert review.notes


def test_the_review_names_the_launchers_folder_and_system_files() -> None:
    from node.site import joblauncher

    assert joblauncher.CODE_FOLDER == CODE_FOLDER
    assert joblauncher.SYSTEM_FILES == SYSTEM_FILES


def test_fednode_jobs_job_prints_the_review_of_a_byoc_job(fednode_home: Path) -> None:
    from typer.testing import CliRunner

    from fednode.settings import Settings
    from node.cli.main import app
    from policies.state_db import open_state_db

    data: dict[str, Any] = yaml.safe_load((REPO / "policies" / "examples" / "site-policy.yaml").read_text())
    data["privacy"]["budgets"] = {"omop_notes": 8.0}
    data["privacy"]["dp"]["site_noise_multiplier"] = 20.0
    data["sandbox"] = {"max_processes": 32}
    (fednode_home / "policy.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    warn = Finding("custom/client.py", 12, "filesystem", "open() on a computed path", severity="warn")
    job = record(findings=(warn,))
    db = open_state_db(Settings(home=fednode_home))
    try:
        db.jobs.register_pending(job.manifest, job.verdict)
    finally:
        db.close()

    as_json = CliRunner().invoke(app, ["--json", "jobs", "--job", "job-b"])
    human = CliRunner().invoke(app, ["jobs", "--job", "job-b"], env={"COLUMNS": "200"})

    assert as_json.exit_code == 0, as_json.stdout
    review = json.loads(as_json.stdout)["review"]
    assert review["limits"]["max_processes"] == 32
    assert review["staged"]["records"] == 0  # no CDM at this site yet: the live count is 0
    assert review["site_dp"]["applied"] and review["site_dp"]["noise_multiplier"] == 20.0
    assert [w["line"] for w in review["warnings"]] == [12] and review["denials"] == []
    assert human.exit_code == 0, human.stdout
    assert "warn custom/client.py:12 [filesystem]" in human.stdout
    assert "sandbox: runs job_code/client.py --data_dir data --model_dir model" in human.stdout
    assert "network: none, except TCP to the one loopback port" in human.stdout
    assert "site DP at egress: the site clips every update to 1 and adds Gaussian noise x20" in human.stdout
