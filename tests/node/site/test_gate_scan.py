"""The gate keeps scheduling while one job's scan cannot finish: the scan runs bounded, per job, failing closed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from node.site import gate as g
from node.site.gate import ApprovalGate
from policies.codescan import SCAN_DID_NOT_FINISH, ScanLimits, scan_manifest_bounded
from policies.contracts import Finding, JobManifest, JobState, RuleOutcome, Verdict
from policies.policy_model import parse_policy
from policies.verdicts import SiteState, evaluate
from tests.node.sitekit import context_for, gate_check, make_job, new_site, server_meta

ROOT = Path(__file__).resolve().parents[3]
BENIGN = ROOT / "tests" / "policies" / "byoc" / "benign" / "fedavg_inprocess" / "app"
HANGS = (sys.executable, "-c", "import time; time.sleep(120)")


def _state() -> SiteState:
    data: dict[str, Any] = yaml.safe_load((ROOT / "policies" / "examples" / "site-policy.yaml").read_text())
    data["jobs"]["kinds"] = ["config_only", "byoc"]
    data["privacy"]["dp"]["required"] = False
    policy = parse_policy(data)
    return SiteState(policy, datetime(2026, 11, 27, 12, tzinfo=UTC), dict(policy.privacy.budgets), 10_000)


def _scan(job: JobManifest, components: frozenset[str]) -> tuple[Finding, ...]:
    """The real bounded scan; the job "job-stuck" gets a worker that never answers."""
    if job.job_id == "job-stuck":
        return scan_manifest_bounded(job, components=components, limits=ScanLimits(timeout_s=1), argv=HANGS)
    return scan_manifest_bounded(job, components=components)


def _verdict(job: JobManifest) -> Verdict:
    return evaluate(job, _state(), scan=_scan)


def _byoc_job(root: Path, name: str, extra: str = "") -> Path:
    files = {
        "config/config_fed_client.json": (BENIGN / "config" / "config_fed_client.json").read_bytes(),
        "custom/train.py": (BENIGN / "custom" / "train.py").read_bytes() + extra.encode(),
    }
    return make_job(root, name=name, extra_files=files)


def _code_scan(verdict: Verdict) -> RuleOutcome:
    return next(r.outcome for r in verdict.results if r.rule == "code_scan")


def test_the_endless_loop_job_and_a_stuck_scan_do_not_stop_a_good_job(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    gate = ApprovalGate(context=context_for(site, verdict=_verdict, timeout_s=10))
    looping = _byoc_job(tmp_path, "looping", "\ndtype = torch.float32\ndtype = torch.float64\n")
    stuck = _byoc_job(tmp_path, "stuck")
    good = _byoc_job(tmp_path, "good")

    # the job whose rebinding looped the old scanner forever is judged like any other
    assert gate_check(gate, server_meta(looping, "job-loop")) == g.BLOCK_AWAITING
    # a scan that never finishes denies that job alone, within the scan's limit
    assert gate_check(gate, server_meta(stuck, "job-stuck")) == g.BLOCK_DENIED
    record = site.jobs.get("job-stuck")
    assert record.state is JobState.PENDING or record.state is JobState.REFUSED
    assert [f.capability for f in record.verdict.findings] == [SCAN_DID_NOT_FINISH]
    # and the next job gets its verdict
    assert gate_check(gate, server_meta(good, "job-good")) == g.BLOCK_AWAITING
    verdict = site.jobs.get("job-good").verdict
    assert verdict.allowed and _code_scan(verdict) is RuleOutcome.WARN
    assert all(f.severity == "warn" for f in verdict.findings)
