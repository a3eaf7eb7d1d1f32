"""The job registry: idempotent registration, conflicts, transitions, digest binding, rounds and egress."""

from __future__ import annotations

from pathlib import Path

import pytest

from fednode.errors import DigestMismatchError, JobStateError, NotFoundError
from policies.audit import AuditEvent
from policies.contracts import EgressDecision, JobState, RoundReport
from policies.ledger import ReservationStatus
from tests.policies.statekit import ALLOW, DENY, DIGEST_A, DIGEST_B, T0, Site, dp, make_site, manifest


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path / "state.db")


def _events(site: Site, job_id: str) -> list[str]:
    return [r.event for r in site.audit.records(job_id=job_id)]


def test_register_is_idempotent_and_roundtrips(site: Site) -> None:
    m = manifest(dp=dp())
    first = site.jobs.register_pending(m, ALLOW)
    again = site.jobs.register_pending(m, ALLOW)
    assert first == again
    assert first.state is JobState.PENDING
    assert first.manifest == m and first.verdict == ALLOW
    assert _events(site, "job-1") == ["job:pending"]


@pytest.mark.parametrize(
    "changed",
    [manifest(digest=DIGEST_B), manifest(pinned_meta={"min_clients": 1}), manifest(content="import os\n")],
    ids=["digest", "pinned-meta", "content-same-digest-stays-ok"],
)
def test_same_id_different_content(site: Site, changed: object) -> None:
    site.jobs.register_pending(manifest(), ALLOW)
    if changed == manifest(content="import os\n"):
        # file content is covered by the digest (recomputed by the gate), not by the meta digest
        assert site.jobs.register_pending(changed, ALLOW).state is JobState.PENDING  # type: ignore[arg-type]
        return
    with pytest.raises(DigestMismatchError):
        site.jobs.register_pending(changed, ALLOW)  # type: ignore[arg-type]
    job = site.jobs.get("job-1")
    assert job.state is JobState.REFUSED
    assert job.manifest.digest == DIGEST_A  # the stored, reviewed manifest is kept
    assert _events(site, "job-1") == ["job:pending", "job:conflict", "job:refused"]


def test_get_unknown(site: Site) -> None:
    with pytest.raises(NotFoundError):
        site.jobs.get("nope")


def test_list_filters_by_state(site: Site) -> None:
    for i in range(3):
        site.jobs.register_pending(manifest(f"job-{i}"), ALLOW)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    assert [j.job_id for j in site.jobs.list_jobs()] == ["job-2", "job-1", "job-0"]
    assert [j.job_id for j in site.jobs.list_jobs([JobState.APPROVED])] == ["job-1"]


def test_full_lifecycle_with_ledger(site: Site) -> None:
    site.jobs.register_pending(manifest(dp=dp()), ALLOW)
    assert not site.jobs.is_approved("job-1", DIGEST_A)
    site.jobs.approve("job-1", "dr.hansen", "reviewed the trainer config")
    assert site.jobs.is_approved("job-1", DIGEST_A)
    assert not site.jobs.is_approved("job-1", DIGEST_B)  # bound to the digest
    reservation = site.ledger.reservation("job-1")
    assert reservation is not None and reservation.status is ReservationStatus.RESERVED
    site.jobs.verify_deploy("job-1", DIGEST_A, manifest(dp=dp()))
    site.jobs.mark_running("job-1")
    assert site.jobs.mark_running("job-1").state is JobState.RUNNING  # idempotent
    assert not site.jobs.is_approved("job-1", DIGEST_A)  # only an APPROVED job may deploy
    site.ledger.record_steps("job-1", "omop_notes", 1.0, 0.01, 100, actor="trainer")
    site.jobs.record_round(RoundReport("job-1", 1, {"f1": 0.5, "loss": 1.2}, 1024, T0))
    site.jobs.record_round(RoundReport("job-1", 1, {"f1": 0.6, "loss": 1.0}, 2048, T0))  # re-sent: replaced
    site.jobs.record_egress(EgressDecision("job-1", 1, False, "unexpected key 'labels_text'", T0))
    finished = site.jobs.mark_finished("job-1")
    assert finished.state is JobState.FINISHED
    assert [r.metrics["f1"] for r in site.jobs.rounds("job-1")] == [0.6]
    assert [e.allowed for e in site.jobs.egress("job-1")] == [False]
    committed = site.ledger.reservation("job-1")
    assert committed is not None and committed.status is ReservationStatus.COMMITTED
    assert _events(site, "job-1") == [
        "job:pending",
        "budget:reserved",
        "job:approved",
        "digest:verified",
        "job:running",
        "budget:steps",
        "job:round",
        "job:round",
        "egress:blocked",
        "budget:committed",
        "job:finished",
    ]
    assert site.audit.verify().records == len(site.audit.records())


def test_deploy_with_other_digest_is_refused(site: Site) -> None:
    site.jobs.register_pending(manifest(dp=dp()), ALLOW)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    with pytest.raises(DigestMismatchError):
        site.jobs.verify_deploy("job-1", DIGEST_B)
    job = site.jobs.get("job-1")
    assert job.state is JobState.REFUSED
    released = site.ledger.reservation("job-1")
    assert released is not None and released.status is ReservationStatus.RELEASED
    assert AuditEvent.DIGEST_MISMATCH in _events(site, "job-1")
    with pytest.raises(JobStateError):
        site.jobs.mark_running("job-1")


def test_deploy_with_changed_meta_is_refused(site: Site) -> None:
    site.jobs.register_pending(manifest(), ALLOW)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    with pytest.raises(DigestMismatchError, match="pinned meta"):
        site.jobs.verify_deploy("job-1", DIGEST_A, manifest(pinned_meta={"min_clients": 1}))


def test_deploy_of_unapproved_job(site: Site) -> None:
    site.jobs.register_pending(manifest(), ALLOW)
    with pytest.raises(JobStateError):
        site.jobs.verify_deploy("job-1", DIGEST_A)


def test_illegal_transitions(site: Site) -> None:
    site.jobs.register_pending(manifest(), DENY)
    with pytest.raises(JobStateError):
        site.jobs.mark_running("job-1")
    with pytest.raises(JobStateError):
        site.jobs.mark_finished("job-1")
    site.jobs.mark_refused("job-1", "verdict denies")
    with pytest.raises(JobStateError):
        site.jobs.reject("job-1", "dr.hansen", "too late")


def test_failed_before_any_step_releases(site: Site) -> None:
    site.jobs.register_pending(manifest(dp=dp()), ALLOW)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    assert site.jobs.mark_failed("job-1", "CUDA out of memory").state_reason == "CUDA out of memory"
    r = site.ledger.reservation("job-1")
    assert r is not None and r.status is ReservationStatus.RELEASED


def test_last_approved_of_study(site: Site) -> None:
    assert site.jobs.last_approved("ner-study") is None
    site.jobs.register_pending(manifest("v1"), ALLOW)
    site.jobs.approve("v1", "dr.hansen", "ok")
    site.jobs.register_pending(manifest("v2", digest=DIGEST_B), ALLOW)
    site.jobs.register_pending(manifest("other", study="other-study"), ALLOW)
    site.jobs.approve("other", "dr.hansen", "ok")
    last = site.jobs.last_approved("ner-study", before="v2")
    assert last is not None and last.job_id == "v1"
    site.jobs.approve("v2", "dr.hansen", "ok")
    last = site.jobs.last_approved("ner-study")
    assert last is not None and last.job_id == "v2"


def test_revision_grows_with_every_change(site: Site) -> None:
    r0 = site.jobs.revision()
    site.jobs.register_pending(manifest(), ALLOW)
    r1 = site.jobs.revision()
    site.jobs.register_pending(manifest(), ALLOW)  # no change
    assert site.jobs.revision() == r1 > r0
