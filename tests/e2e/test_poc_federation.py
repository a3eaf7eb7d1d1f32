"""The approval gate end to end: two hospitals and a coordinator as real processes (gRPC, mutual TLS), each
hospital's notes de-identified into its CDM, the site policy compiled into its NVFlare files.

Shows: a submitted job is HELD (stays SUBMITTED) while it is pending review, and every site is mandatory; after
approval it runs and the signed model verifies, its provenance holding each site's signed approval receipt (checked
against that site's own key, for the approved digest); bytes changed after approval are refused at deploy; a result
that tries to carry text out is blocked by the egress guard, and the study then ends with that reason instead of
running on.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from fednode.errors import ServiceError
from fednode.settings import load_settings
from node.coordinator.launcher import LocalFederation
from node.coordinator.signing import verify_signed_model
from node.coordinator.study import APP_NAME, StudyClient, StudySpec, build_job
from node.local.demo import APPROVER, Consortium, DemoConfig, approve_as_demo, prepare_consortium
from node.local.harness import Steps
from policies.contracts import JobRecord, JobState
from policies.manifest import embed_manifest
from policies.state_db import open_state_db

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass
class Running:
    consortium: Consortium
    federation: LocalFederation
    client: StudyClient

    @property
    def sites(self) -> list[str]:
        return list(self.consortium.homes)

    def record(self, site: str, job_id: str) -> JobRecord | None:
        db = open_state_db(load_settings(home=self.consortium.homes[site], site_name=site))
        try:
            return next((j for j in db.jobs.list_jobs() if j.job_id == job_id), None)
        finally:
            db.close()

    def public_key(self, site: str) -> str:
        db = open_state_db(load_settings(home=self.consortium.homes[site], site_name=site))
        try:
            return db.key.public_pem
        finally:
            db.close()

    def egress(self, site: str, job_id: str) -> list[bool]:
        db = open_state_db(load_settings(home=self.consortium.homes[site], site_name=site))
        try:
            return [d.allowed for d in db.jobs.egress(job_id)]
        finally:
            db.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    config = DemoConfig(sites=2, sentences=60, model_spec="tiny", rounds=1, workdir=tmp_path_factory.mktemp("poc"))
    consortium = prepare_consortium(config, Steps(Console(stderr=True), False), extra_class_prefixes=("tests.node.",))
    with LocalFederation(consortium.federation, site_homes=consortium.homes, env=consortium.env) as lf:
        lf.start(timeout_s=300)
        yield Running(consortium, lf, StudyClient(consortium.federation))


def _eventually(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(1.0)


def _tampered(zipped: bytes, admin_startup: Path, scratch: Path) -> bytes:
    """The stored job with one config value changed and every folder re-signed with the admin's key."""
    from nvflare.lighter.utils import load_private_key_file, sign_folders

    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        zf.extractall(scratch)
    (job_dir,) = [p for p in scratch.iterdir() if p.is_dir()]
    cfg = job_dir / APP_NAME / "config" / "config_fed_client.json"
    cfg.write_text(cfg.read_text().replace('"local_epochs": 1', '"local_epochs": 50'))
    sign_folders(
        str(job_dir), load_private_key_file(str(admin_startup / "client.key")), str(admin_startup / "client.crt")
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(job_dir.rglob("*")):
            arc = path.relative_to(scratch).as_posix() + ("/" if path.is_dir() else "")
            if path.is_dir():
                zf.writestr(arc, b"")
            else:
                zf.write(path, arc)
    return out.getvalue()


def _submit(run: Running, tmp: Path, name: str, executor: dict[str, object] | None = None) -> tuple[str, str]:
    spec = StudySpec(name=name, sites=tuple(run.sites), rounds=1, model_spec="tiny", max_examples=40, batch_size=8)
    job, digest = build_job(spec, tmp)
    if executor is not None:
        cfg = job / APP_NAME / "config" / "config_fed_client.json"
        data = json.loads(cfg.read_text())
        data["executors"][0]["executor"] = executor
        cfg.write_text(json.dumps(data))
        digest = embed_manifest(job)[APP_NAME]
    job_id = run.client.submit(job)
    _eventually(
        lambda: all((r := run.record(s, job_id)) is not None and r.state is JobState.PENDING for s in run.sites),
        120,
        "every site to hold the job as pending",
    )
    return job_id, digest


def test_a_held_job_waits_for_every_site_then_runs_and_its_signed_model_verifies(
    running: Running, tmp_path: Path
) -> None:
    job_id, digest = _submit(running, tmp_path, "held-then-approved")
    time.sleep(12)  # two or more scheduling rounds
    status = running.client.status(job_id)
    assert status.status == "SUBMITTED"
    assert status.schedule_count >= 2

    approve_as_demo(running.consortium.homes["site-1"], "site-1", job_id)
    time.sleep(12)
    assert running.client.status(job_id).status == "SUBMITTED"  # site-2 is mandatory and has not approved

    approve_as_demo(running.consortium.homes["site-2"], "site-2", job_id)
    final = running.client.wait(job_id, timeout_s=300)
    assert final.status == "FINISHED:COMPLETED"
    folder = running.client.download(job_id, tmp_path / "out")
    site_keys = {site: running.public_key(site) for site in running.sites}
    verified = verify_signed_model(
        folder, [running.client.trusted_key()], expected_job_digest=digest, site_keys=site_keys
    )
    assert verified.provenance.sites == ("site-1", "site-2")
    assert verified.provenance.rounds[0].sites == ("site-1", "site-2")
    # each site's own signed approval receipt, for the digest it approved, verified against that site's key
    assert verified.receipts == verified.receipts_verified == ("site-1", "site-2")
    for site in running.sites:
        body = verified.provenance.approvals[site]["receipt"]["body"]
        assert (body["site"], body["job_id"], body["job_digest"]) == (site, job_id, digest)
        assert [a["name"] for a in body["approvers"]] == [APPROVER]
    # each site's signed audit head, verified against the key pinned at provisioning, kept and countersigned
    assert sorted(verified.provenance.audit_heads) == ["site-1", "site-2"]  # (verify_signed_model checked them)
    for site in running.sites:
        record = running.record(site, job_id)
        assert record is not None and record.state is JobState.FINISHED
        assert record.approvals and record.approvals[0].digest == digest
        assert all(running.egress(site, job_id))


def test_bytes_changed_after_approval_are_refused_at_deploy(running: Running, tmp_path: Path) -> None:
    job_id, _digest = _submit(running, tmp_path, "tampered")
    stored = running.consortium.federation.server_dir / "storage" / "jobs" / job_id / "data"
    assert stored.is_file()
    # a compromised coordinator swaps the code after review, and even re-signs it with a valid admin key, so
    # NVFlare's own job-signature check passes: only the site's digest check stands in the way
    changed = _tampered(stored.read_bytes(), running.consortium.federation.admin_dir / "startup", tmp_path / "t")
    stored.write_bytes(changed)

    for site in running.sites:
        approve_as_demo(running.consortium.homes[site], site, job_id)
    final = running.client.wait(job_id, timeout_s=300)
    assert final.status != "FINISHED:COMPLETED"
    for site in running.sites:
        record = running.record(site, job_id)
        assert record is not None and record.state is JobState.REFUSED
        assert "digest" in record.state_reason.lower()


def test_a_result_carrying_text_is_blocked_by_the_egress_guard(running: Running, tmp_path: Path) -> None:
    leaky = {"path": "tests.node.coordinator.flare_fixtures.LeakyExecutor", "args": {}}
    job_id, _ = _submit(running, tmp_path, "leaky", executor=leaky)
    for site in running.sites:
        approve_as_demo(running.consortium.homes[site], site, job_id)
    final = running.client.wait(job_id, timeout_s=300)
    assert final.status == "FINISHED:EXECUTION_EXCEPTION"  # no update passed: the study ended, no model
    for site in running.sites:
        assert False in running.egress(site, job_id)
    with pytest.raises(ServiceError, match="no usable result from any of the 2 sites"):
        running.client.download(job_id, tmp_path / "out")
    status = running.client.status(job_id)  # `fednode study status` says why, too
    assert status.failed and "no usable result from any of the 2 sites" in status.failure
