"""Secure aggregation in the POC federation: two hospitals and a coordinator as real processes (gRPC, mutual TLS).

The study asks for secure aggregation; each site's kit key signs its advertised keys, its egress guard masks the
checked update as the last step and lets the protocol's messages out only as produced; the coordinator unmasks the
sum and the signed model verifies, its provenance recording the securely aggregated rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from fednode.settings import load_settings
from node.coordinator.launcher import LocalFederation
from node.coordinator.signing import verify_signed_model
from node.coordinator.study import StudyClient, StudySpec, build_job
from node.local.demo import Consortium, DemoConfig, approve_as_demo, prepare_consortium
from node.local.harness import Steps
from policies.contracts import JobState
from policies.state_db import open_state_db

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Consortium, StudyClient]]:
    config = DemoConfig(sites=2, sentences=60, model_spec="tiny", rounds=2, workdir=tmp_path_factory.mktemp("poc"))
    consortium = prepare_consortium(config, Steps(Console(stderr=True), False))
    with LocalFederation(consortium.federation, site_homes=consortium.homes, env=consortium.env) as lf:
        lf.start(timeout_s=300)
        yield consortium, StudyClient(consortium.federation)


def _eventually(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(1.0)


def _site(consortium: Consortium, site: str) -> object:
    return open_state_db(load_settings(home=consortium.homes[site], site_name=site))


def test_a_securely_aggregated_study_runs_and_its_provenance_says_so(
    federation: tuple[Consortium, StudyClient], tmp_path: Path
) -> None:
    consortium, client = federation
    sites = tuple(consortium.homes)
    spec = StudySpec(
        name="secagg", sites=sites, rounds=2, model_spec="tiny", max_examples=40, batch_size=8, secure_aggregation=True
    )
    job, digest = build_job(spec, tmp_path)
    job_id = client.submit(job)

    def pending() -> bool:
        for s in sites:
            db = _site(consortium, s)
            try:
                record = next((j for j in db.jobs.list_jobs() if j.job_id == job_id), None)  # type: ignore[attr-defined]
            finally:
                db.close()  # type: ignore[attr-defined]
            if record is None or record.state is not JobState.PENDING:
                return False
        return True

    _eventually(pending, 120, "every site to hold the job as pending")
    for s in sites:
        approve_as_demo(consortium.homes[s], s, job_id)
    assert client.wait(job_id, timeout_s=600).status == "FINISHED:COMPLETED"
    folder = client.download(job_id, tmp_path / "out")
    verified = verify_signed_model(folder, [client.trusted_key()], expected_job_digest=digest)
    secagg = verified.provenance.secure_aggregation
    assert [r["sites"] for r in secagg["rounds"]] == [list(sites), list(sites)]
    assert all(r["recovered"] == [] and r["threshold"] == 2 for r in secagg["rounds"])
    for s in sites:
        db = _site(consortium, s)
        try:
            decisions = db.jobs.egress(job_id)  # type: ignore[attr-defined]
            record = next(j for j in db.jobs.list_jobs() if j.job_id == job_id)  # type: ignore[attr-defined]
        finally:
            db.close()  # type: ignore[attr-defined]
        assert record.manifest.secure_aggregation is True
        # per round: advertise, share, the masked update, unmask (then the cross-site evaluation): all allowed out
        assert len(decisions) >= 8 and all(d.allowed for d in decisions)
        assert sum(d.reason.startswith("passed: WEIGHT_DIFF") for d in decisions) == 2
