"""The approval gate and the digest validator, driven with NVFlare's own FLContext and event types, on a real
job registry (state.db, audit chain, ledger)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey

from node.site import gate as g
from node.site.gate import ApprovalGate, DigestValidator
from policies import manifest as mf
from policies.audit import AuditEvent
from policies.contracts import JobState
from tests.node.sitekit import (
    DENY,
    WINDOW,
    context_for,
    ctx,
    deploy_app,
    gate_check,
    gate_deploy,
    job_events,
    make_job,
    new_site,
    server_meta,
)


def test_job_is_held_until_approved_then_released(tmp_path: Path) -> None:
    site = new_site(tmp_path, required=2)
    gate = ApprovalGate(context=context_for(site))
    meta = server_meta(make_job(tmp_path), "job-1")

    assert gate_check(gate, meta) == g.BLOCK_AWAITING
    record = site.jobs.get("job-1")
    assert record.state is JobState.PENDING
    assert record.manifest.digest == mf.folder_digest(tmp_path / "ner-study" / "app")
    assert any(f.path == "config/config_fed_client.json" and f.content for f in record.manifest.files)

    assert gate_check(gate, meta) == g.BLOCK_AWAITING  # the scheduler retries: still held, registered once
    site.jobs.approve("job-1", "dr.hansen", "reviewed the config")
    assert gate_check(gate, meta) == g.BLOCK_AWAITING  # four eyes: one approval is not enough
    site.jobs.approve("job-1", "dr.larsen", "agree")
    assert gate_check(gate, meta) is None
    assert job_events(site, "job-1").count(AuditEvent.JOB_PENDING.value) == 1


def test_rejected_denied_and_window_jobs_get_their_own_reasons(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    job = make_job(tmp_path)

    gate = ApprovalGate(context=context_for(site))
    gate_check(gate, server_meta(job, "job-r"))
    site.jobs.reject("job-r", "dr.hansen", "not this study")
    assert gate_check(gate, server_meta(job, "job-r")) == g.BLOCK_REJECTED

    denying = ApprovalGate(context=context_for(site, verdict=DENY))
    assert gate_check(denying, server_meta(job, "job-d")) == g.BLOCK_DENIED
    assert site.jobs.get("job-d").state is JobState.REFUSED

    windowed = ApprovalGate(context=context_for(site, verdict=WINDOW))
    assert gate_check(windowed, server_meta(job, "job-w")) == g.BLOCK_AWAITING  # transient: stays reviewable
    assert site.jobs.get("job-w").state is JobState.PENDING


def test_approved_job_is_held_while_its_time_window_is_closed(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    verdicts = {"now": DENY.__class__(True, (), policy_digest="p" * 64)}
    gate = ApprovalGate(context=context_for(site, verdict=lambda _m: verdicts["now"]))
    meta = server_meta(make_job(tmp_path), "job-1")
    gate_check(gate, meta)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    verdicts["now"] = WINDOW
    assert gate_check(gate, meta) == g.BLOCK_WINDOW
    verdicts["now"] = DENY.__class__(True, (), policy_digest="p" * 64)
    assert gate_check(gate, meta) is None


def test_job_changed_after_review_is_refused(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    gate = ApprovalGate(context=context_for(site))
    job = make_job(tmp_path)
    gate_check(gate, server_meta(job, "job-1"))
    site.jobs.approve("job-1", "dr.hansen", "ok")

    (job / "app" / "config" / "config_fed_client.json").write_text('{"executors": []}')
    mf.embed_manifest(job)
    assert gate_check(gate, server_meta(job, "job-1")) == g.BLOCK_CHANGED
    assert site.jobs.get("job-1").state is JobState.REFUSED
    assert AuditEvent.JOB_CONFLICT.value in job_events(site, "job-1")


def test_job_without_manifest_is_held_not_registered(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    gate = ApprovalGate(context=context_for(site))
    meta = server_meta(make_job(tmp_path), "job-1")
    del meta[mf.META_KEY]
    assert gate_check(gate, meta) == g.BLOCK_NO_MANIFEST
    assert site.jobs.list_jobs() == []


def test_deploy_rechecks_pinned_meta(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    gate = ApprovalGate(context=context_for(site))
    job = make_job(tmp_path)
    meta = server_meta(job, "job-1")
    assert gate_deploy(gate, meta) == g.REFUSE_NOT_APPROVED  # never reviewed: no deploy
    gate_check(gate, meta)
    assert gate_deploy(gate, meta) == g.REFUSE_NOT_APPROVED  # pending: no deploy
    site.jobs.approve("job-1", "dr.hansen", "ok")

    assert gate_deploy(gate, server_meta(job, "job-1", schedule_count=7)) is None  # scheduler fields are not pinned
    assert gate_deploy(gate, server_meta(job, "job-1", min_clients=1)) == g.REFUSE_META
    assert site.jobs.get("job-1").state is JobState.REFUSED
    assert AuditEvent.DIGEST_MISMATCH.value in job_events(site, "job-1")


def test_validator_accepts_exact_bytes_and_marks_nothing_else(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    context = context_for(site)
    gate, validator = ApprovalGate(context=context), DigestValidator(context=context)
    job = make_job(tmp_path)
    gate_check(gate, server_meta(job, "job-1"))

    app_dir = deploy_app(job, tmp_path / "ws", "job-1")
    err, props = validator.validate(str(app_dir))
    assert err == g.REFUSE_NOT_APPROVED and props == {}

    site.jobs.approve("job-1", "dr.hansen", "ok")
    assert validator.validate(str(app_dir)) == ("", {})
    assert AuditEvent.DIGEST_VERIFIED.value in job_events(site, "job-1")
    gate.handle_event(EventType.AFTER_JOB_LAUNCH, _launch_ctx("job-1"))
    assert site.jobs.get("job-1").state is JobState.RUNNING


def _launch_ctx(job_id: str) -> object:
    fl_ctx = ctx()
    fl_ctx.set_prop(FLContextKey.JOB_META, {"job_id": job_id}, private=True, sticky=False)
    return fl_ctx


def test_validator_refuses_a_hidden_pyc_next_to_reviewed_code(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    context = context_for(site)
    gate, validator = ApprovalGate(context=context), DigestValidator(context=context)
    job = make_job(tmp_path, extra_files={"custom/model.py": b"def forward(x):\n    return x\n"})
    gate_check(gate, server_meta(job, "job-1"))
    site.jobs.approve("job-1", "dr.hansen", "reviewed model.py")

    app_dir = deploy_app(job, tmp_path / "ws", "job-1")
    pycache = app_dir / "custom" / "__pycache__"
    pycache.mkdir()
    (pycache / "model.cpython-311.pyc").write_bytes(b"\xa7\r\r\n" + b"\x00" * 12 + b"malicious bytecode")

    err, _ = validator.validate(str(app_dir))
    assert err.startswith("fednode: refused") and "__pycache__" in err
    record = site.jobs.get("job-1")
    assert record.state is JobState.REFUSED and "compiled" in record.state_reason


def test_validator_refuses_changed_bytes_and_audits(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    context = context_for(site)
    gate, validator = ApprovalGate(context=context), DigestValidator(context=context)
    job = make_job(tmp_path, extra_files={"custom/model.py": b"def forward(x):\n    return x\n"})
    gate_check(gate, server_meta(job, "job-1"))
    site.jobs.approve("job-1", "dr.hansen", "ok")

    app_dir = deploy_app(job, tmp_path / "ws", "job-1")
    (app_dir / "custom" / "model.py").write_text("import socket  # exfiltrate\n")
    assert validator.validate(str(app_dir)) == (g.REFUSE_DIGEST, {})
    assert site.jobs.get("job-1").state is JobState.REFUSED
    assert AuditEvent.DIGEST_MISMATCH.value in job_events(site, "job-1")


class _StuckRegistry:
    """The real registry behind a lock held by another writer: every call waits until released."""

    def __init__(self, inner: object, release: threading.Event) -> None:
        self._inner, self._release = inner, release

    def __getattr__(self, name: str) -> object:
        self._release.wait(30)
        return getattr(self._inner, name)


def test_handlers_never_block_longer_than_the_timeout(tmp_path: Path) -> None:
    site = new_site(tmp_path)
    release = threading.Event()
    context = context_for(site, timeout_s=0.3)
    context.jobs = _StuckRegistry(site.jobs, release)  # type: ignore[assignment]
    gate, validator = ApprovalGate(context=context), DigestValidator(context=context)
    job = make_job(tmp_path)
    try:
        started = time.monotonic()
        assert gate_check(gate, server_meta(job, "job-1")) == g.BLOCK_BUSY
        assert gate_deploy(gate, server_meta(job, "job-1")) == g.REFUSE_TIMEOUT
        assert validator.validate(str(deploy_app(job, tmp_path / "ws", "job-1")))[0] == g.REFUSE_TIMEOUT
        assert time.monotonic() - started < 3.0
    finally:
        release.set()


def test_gate_errors_fail_closed(tmp_path: Path) -> None:
    site = new_site(tmp_path)

    def broken(_m: object) -> object:
        raise RuntimeError("policy engine crashed")

    gate = ApprovalGate(context=context_for(site, verdict=broken))  # type: ignore[arg-type]
    assert gate_check(gate, server_meta(make_job(tmp_path), "job-1")) == g.BLOCK_ERROR


def test_services_built_from_settings_judge_with_the_real_policy_engine(tmp_path: Path) -> None:
    """``build_site_context``: the one place below the edge that reads settings; the verdict is the policy's."""
    import shutil

    from fednode.settings import load_settings
    from node.site.context import build_site_context

    home = tmp_path / "home"
    home.mkdir()
    example = Path(__file__).resolve().parents[3] / "policies" / "examples" / "site-policy.yaml"
    shutil.copy(example, home / "policy.yaml")
    context = build_site_context(load_settings(home=home, omop_url=f"sqlite:///{home / 'omop.db'}"))
    try:
        assert context.site_name == "site-oslo" and context.policy is not None
        gate = ApprovalGate(context=context)
        job = make_job(tmp_path, extra_files={"custom/model.py": b"import socket\n"})
        assert gate_check(gate, server_meta(job, "job-1")) == g.BLOCK_DENIED  # byoc + network + no CDM records
        record = context.jobs.get("job-1")
        assert record.state is JobState.REFUSED
        assert {"job_kind", "local_records"} <= {r.rule for r in record.verdict.results if r.outcome.value == "deny"}
    finally:
        for close in context.closers:
            close()
