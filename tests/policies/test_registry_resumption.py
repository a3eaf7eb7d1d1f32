"""A continued study (the coordinator restarted): the first job's approval carries over when nothing reviewed
changed and it still holds under today's policy, audited ``job:resumed``, without reserving the budget again;
anything changed means a new review."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from node.site.receipts import receipt_shape_problem
from policies.approver_keys import SignedApproval
from policies.contracts import JobState
from policies.keys import load_public_key
from policies.ledger import ReservationStatus
from policies.receipts import approver_signatures_problem, issue_receipt, verify_receipt
from policies.registry import ApprovalRules
from tests.policies.approverkit import keygen_sign, make_key, needs_openssh
from tests.policies.statekit import ALLOW, DENY, DIGEST_B, Site, dp, make_site, manifest


@pytest.fixture
def site(tmp_path: Path) -> Site:
    s = make_site(tmp_path / "state.db")
    s.jobs.register_pending(manifest("job-1", dp=dp()), ALLOW)
    s.jobs.approve("job-1", "dr.hansen", "reviewed")
    s.jobs.mark_running("job-1")
    return s


def _events(site: Site, job_id: str) -> list[str]:
    return [r.event for r in site.audit.records(job_id=job_id)]


def _reserved(site: Site) -> int:
    return len([r for r in site.audit.records() if r.event == "budget:reserved"])


def test_an_unchanged_continuation_is_approved_without_a_new_review(site: Site) -> None:
    record = site.jobs.register_resumed(manifest("job-2", dp=dp()), ALLOW, "job-1")
    assert record.state is JobState.APPROVED
    assert site.jobs.is_approved("job-2", record.manifest.digest)
    assert [a.approver for a in record.approvals] == ["dr.hansen"]  # the people who reviewed the first job
    assert _events(site, "job-2") == ["job:resumed"]  # no job:pending, no job:approved: nobody was asked
    resumed = next(r for r in site.audit.records(job_id="job-2"))
    assert resumed.details["first_job"] == "job-1" and resumed.details["budget_reserved_again"] is False
    assert _reserved(site) == 1  # the budget is reserved once, by the first job
    assert site.ledger.reservation("job-2") is None
    assert site.ledger.reservation("job-1").status is ReservationStatus.RESERVED  # type: ignore[union-attr]
    # it then runs like any approved job; asking again returns the stored record
    assert site.jobs.register_resumed(manifest("job-2", dp=dp()), ALLOW, "job-1") == record
    site.jobs.verify_deploy("job-2", record.manifest.digest, manifest("job-2", dp=dp()))
    assert site.jobs.mark_running("job-2").state is JobState.RUNNING


def test_a_continuation_of_a_finished_first_job_also_carries_over(site: Site) -> None:
    site.jobs.mark_finished("job-1")  # the site's job ended when the coordinator went away
    assert site.jobs.register_resumed(manifest("job-2", dp=dp()), ALLOW, "job-1").state is JobState.APPROVED


@pytest.mark.parametrize(
    ("changed", "verdict", "why"),
    [
        (manifest("job-2", digest=DIGEST_B, dp=dp()), ALLOW, "the app digest changed"),
        (manifest("job-2", dp=dp(), pinned_meta={"min_clients": 1}), ALLOW, "pinned meta changed"),
        (manifest("job-2", dp=dp(noise=0.5)), ALLOW, "pinned meta changed"),
        (manifest("job-2", dp=dp(), study="other"), ALLOW, "another study"),
        (manifest("job-2", dp=dp()), DENY, "does not allow it now"),
    ],
    ids=["digest", "pinned-meta", "declared-dp", "study", "policy-denies-now"],
)
def test_anything_changed_means_a_new_review(site: Site, changed: object, verdict: object, why: str) -> None:
    record = site.jobs.register_resumed(changed, verdict, "job-1")  # type: ignore[arg-type]
    assert record.state is JobState.PENDING and record.approvals == ()
    events = site.audit.records(job_id="job-2")
    assert [r.event for r in events] == ["job:pending", "job:resume_refused"]
    assert why in str(events[1].details["resume_refused"])


def test_a_removed_approver_revokes_the_carried_approval(site: Site) -> None:
    site.jobs.rules = replace(site.jobs.rules, approvers=("dr.larsen",))
    record = site.jobs.register_resumed(manifest("job-2", dp=dp()), ALLOW, "job-1")
    assert record.state is JobState.PENDING
    assert "0 of the 1 required approvals still hold" in str(site.audit.records(job_id="job-2")[1].details)


def test_a_policy_that_now_asks_for_more_approvals_needs_a_new_review(site: Site) -> None:
    site.jobs.rules = ApprovalRules(approvers=("dr.hansen", "dr.larsen"), required_approvals=2, identity="name")
    assert site.jobs.register_resumed(manifest("job-2", dp=dp()), ALLOW, "job-1").state is JobState.PENDING


def test_an_unknown_rejected_or_unapproved_first_job_is_not_carried_over(site: Site) -> None:
    assert site.jobs.register_resumed(manifest("job-2"), ALLOW, "job-0").state is JobState.PENDING
    site.jobs.register_pending(manifest("job-3"), ALLOW)
    site.jobs.reject("job-3", "dr.larsen", "no")
    assert site.jobs.register_resumed(manifest("job-4"), ALLOW, "job-3").state is JobState.PENDING
    site.jobs.register_pending(manifest("job-5", study="s5"), ALLOW)
    record = site.jobs.register_resumed(manifest("job-6", study="s5"), ALLOW, "job-5")
    assert record.state is JobState.PENDING
    assert "never approved" in str(site.audit.records(job_id="job-6")[1].details)


@needs_openssh
def test_the_receipt_of_a_continued_study_carries_the_first_jobs_signed_approvals(tmp_path: Path) -> None:
    private, public = make_key(tmp_path, "dr.hansen")
    site = make_site(tmp_path / "keyed.db", identity="key", keys=(("dr.hansen", public),))
    allow = replace(ALLOW, policy_digest="f" * 64)
    site.jobs.register_pending(manifest("job-1"), allow)
    statement = site.jobs.statement("job-1").to_bytes()
    site.jobs.approve("job-1", None, "ok", signed=SignedApproval(statement, keygen_sign(private, statement, tmp_path)))
    record = site.jobs.register_resumed(manifest("job-2"), allow, "job-1")
    assert record.state is JobState.APPROVED

    receipt = issue_receipt(record, site="site-a", key=site.key)
    assert receipt.body["job_id"] == "job-2" and receipt.body["resumed_from"] == "job-1"
    assert receipt_shape_problem(receipt.to_json()) is None  # the site's egress guard lets it leave
    public_key = load_public_key(site.key.public_pem)
    verify_receipt(receipt, public_key, enrolled={"dr.hansen": public})  # the approver's own signature holds
    # the same statements without the carried-over job named do not verify for job-2
    forged = {k: v for k, v in receipt.body.items() if k != "resumed_from"}
    assert "another job" in str(approver_signatures_problem(forged, None))
