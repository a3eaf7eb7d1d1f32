"""The gate and a continued study: a resubmitted job naming the study's first job runs without a new review when
nothing reviewed changed (``job:resumed``); a changed one, or one with no approved first job, waits for review."""

from __future__ import annotations

import json
from pathlib import Path

from node.kit.meta import RESUME_META_KEY
from node.site import gate as g
from node.site.gate import ApprovalGate
from node.site.resume import first_job_named
from policies import manifest as mf
from policies.contracts import JobState
from tests.node.sitekit import context_for, gate_check, gate_deploy, job_events, make_job, new_site, server_meta


def _approved_first_job(tmp_path: Path):  # type: ignore[no-untyped-def]
    site = new_site(tmp_path)
    gate = ApprovalGate(context=context_for(site))
    job = make_job(tmp_path)
    assert gate_check(gate, server_meta(job, "job-1")) == g.BLOCK_AWAITING
    site.jobs.approve("job-1", "dr.hansen", "reviewed")
    assert gate_check(gate, server_meta(job, "job-1")) is None
    site.jobs.mark_running("job-1")  # then the coordinator died
    return site, gate, job


def test_a_continued_study_runs_without_a_second_review(tmp_path: Path) -> None:
    site, gate, job = _approved_first_job(tmp_path)
    meta = {**server_meta(job, "job-2"), RESUME_META_KEY: "job-1"}
    assert gate_check(gate, meta) is None  # released at once: nobody was asked again
    assert job_events(site, "job-2") == ["job:resumed"]
    assert gate_deploy(gate, meta) is None  # the deploy re-check holds it to the same digest and pinned meta
    assert site.jobs.get("job-2").state is JobState.APPROVED


def test_a_continuation_with_changed_bytes_waits_for_review(tmp_path: Path) -> None:
    site, gate, job = _approved_first_job(tmp_path)
    (job / "app" / "config" / "extra.json").write_text(json.dumps({"local_epochs": 9}), encoding="utf-8")
    mf.embed_manifest(job)
    meta = {**server_meta(job, "job-2"), RESUME_META_KEY: "job-1"}
    assert gate_check(gate, meta) == g.BLOCK_AWAITING
    assert job_events(site, "job-2") == ["job:pending", "job:resume_refused"]


def test_a_continuation_with_changed_pinned_meta_waits_for_review(tmp_path: Path) -> None:
    site, gate, job = _approved_first_job(tmp_path)
    meta = {**server_meta(job, "job-2", min_clients=1), RESUME_META_KEY: "job-1"}
    assert gate_check(gate, meta) == g.BLOCK_AWAITING
    assert site.jobs.get("job-2").state is JobState.PENDING


def test_a_job_without_the_key_or_naming_itself_is_a_new_job() -> None:
    assert first_job_named({}, "job-2") is None
    assert first_job_named({RESUME_META_KEY: "job-2"}, "job-2") is None
    assert first_job_named({RESUME_META_KEY: ["job-1"]}, "job-2") is None
    assert first_job_named({RESUME_META_KEY: "job-1"}, "job-2") == "job-1"
