"""The coordinator restarts and the study goes on (issue 16.2), in the POC federation: two hospitals and a
coordinator as real processes. The coordinator process is killed mid-study, started again, and `fednode study
resume` continues the study: it finishes with the same number of rounds and a model that verifies, whose
provenance records the restart; the sites were not asked to approve again (their audit shows ``job:resumed``);
rounds completed before the crash were not trained or charged again at any site.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from fednode.settings import load_settings
from node.cli.main import app
from node.coordinator.checkpoint import CHECKPOINTS_DIR, COMMIT_FILE
from node.coordinator.launcher import LocalFederation, wait_for_port
from node.coordinator.signing import verify_signed_model
from node.coordinator.study import StudyClient, StudySpec, build_job
from node.local.demo import DemoConfig, approve_as_demo, prepare_consortium
from node.local.harness import Steps
from policies.contracts import JobState
from policies.state_db import open_state_db

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROUNDS = 6


def _eventually(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 1.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(poll_s)


def _resume(federation: Path, job_id: str) -> Result:
    """`fednode --json study resume JOB`; asked again while the restarted coordinator is too busy to answer."""
    for _ in range(10):
        out = CliRunner().invoke(app, ["--json", "study", "resume", job_id, "--federation", str(federation)])
        if out.exit_code != 1:  # 1: service error (the admin session timed out)
            return out
        time.sleep(5)
    return out


def _checkpointed_round(server_dir: Path, job_id: str) -> int:
    path = server_dir / CHECKPOINTS_DIR / job_id / COMMIT_FILE
    try:
        return int(json.loads(path.read_text())["round"])
    except (OSError, ValueError, KeyError):
        return -1


def test_a_killed_coordinator_restarts_and_the_study_goes_on_without_a_second_review(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("poc-resume")
    config = DemoConfig(sites=2, sentences=60, model_spec="tiny", rounds=1, workdir=workdir)
    consortium = prepare_consortium(config, Steps(Console(stderr=True), False))
    homes = consortium.homes
    fed = consortium.federation

    def site_db(site: str):  # type: ignore[no-untyped-def]
        return open_state_db(load_settings(home=homes[site], site_name=site))

    def state(site: str, job_id: str) -> JobState | None:
        db = site_db(site)
        try:
            return next((j.state for j in db.jobs.list_jobs() if j.job_id == job_id), None)
        finally:
            db.close()

    with LocalFederation(fed, site_homes=homes, env=consortium.env) as lf:
        lf.start(timeout_s=300)
        client = StudyClient(fed)
        spec = StudySpec(
            name="resumed-study", sites=tuple(homes), rounds=ROUNDS, model_spec="tiny", max_examples=40, batch_size=8
        )
        job, digest = build_job(spec, workdir / "jobs")
        first = client.submit(job)
        _eventually(lambda: all(state(s, first) is JobState.PENDING for s in homes), 120, "the job held for review")
        for site in homes:
            approve_as_demo(homes[site], site, first)

        # the coordinator dies once two rounds are checkpointed (mid-study: the next round is in flight)
        _eventually(lambda: _checkpointed_round(fed.server_dir, first) >= 1, 600, "two checkpointed rounds", 0.2)
        lf.participants[fed.server_name].kill()
        before = _checkpointed_round(fed.server_dir, first)
        assert before < ROUNDS - 1, "the study finished before the coordinator could be killed"

        lf.start_server()
        wait_for_port("127.0.0.1", fed.fl_port, 120, lf.participants[fed.server_name])
        lf.wait_for_sites(list(homes), 180)
        out = _resume(fed.root, first)
        assert out.exit_code == 0, out.output
        resumed = json.loads(out.stdout.strip().splitlines()[-1])
        second = resumed["job_id"]
        assert resumed["first_job"] == first and resumed["after_round"] == before

        final = client.wait(second, timeout_s=900)
        assert final.status == "FINISHED:COMPLETED"
        folder = client.download(second, workdir / "out")
        site_keys = {}
        for site in homes:
            db = site_db(site)
            try:
                site_keys[site] = db.key.public_pem
            finally:
                db.close()
        verified = verify_signed_model(folder, [client.trusted_key()], expected_job_digest=digest, site_keys=site_keys)
        prov = verified.provenance
        assert [r.round for r in prov.rounds] == list(range(ROUNDS))  # the same number of rounds
        assert [(r["job_id"], r["resumed_from"], r["after_round"]) for r in prov.restarts] == [(second, first, before)]

        for site in homes:
            db = site_db(site)
            try:
                events = [r.event for r in db.audit.records(job_id=second)]
                assert "job:resumed" in events
                assert "job:pending" not in events and "job:approved" not in events  # nobody was asked again
                record = db.jobs.get(second)
                assert record.state is JobState.FINISHED and record.manifest.digest == digest
                assert [r.event for r in db.audit.records() if r.event == "budget:reserved"] in (
                    [],
                    ["budget:reserved"],
                )
                assert db.ledger.reservation(second) is None  # the budget is not reserved again
                trained_first = {r.round for r in db.jobs.rounds(first)}
                # (the cross-site validation after the last training round reports round ROUNDS: not training)
                trained_second = [r.round for r in db.jobs.rounds(second) if r.round < ROUNDS]
                # rounds completed before the crash are never trained (nor charged) again; the continuation trains
                # each remaining round once
                assert set(range(before + 1)) <= trained_first
                assert trained_second == list(range(before + 1, ROUNDS))
            finally:
                db.close()
