"""Approval rules: verdict, listed approvers, four eyes, TOTP (missing, wrong, replayed), budget on the last
approval, and the CLI on the same service."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pyotp
import pytest
from typer.testing import CliRunner

from fednode.errors import ApprovalRefusedError, BudgetExceededError, FednodeError, JobStateError
from node.cli.main import app
from policies.audit import AuditEvent
from policies.contracts import JobState
from policies.totp import FileTotpVerifier, verify_code
from tests.policies.statekit import ALLOW, DENY, DIGEST_A, Site, dp, make_site, manifest


def _refusal_whys(site: Site) -> list[str]:
    return [str(r.details["why"]) for r in site.audit.records(events=[AuditEvent.JOB_APPROVAL_REFUSED])]


def test_denying_verdict_cannot_be_approved(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db")
    site.jobs.register_pending(manifest(), DENY)
    with pytest.raises(ApprovalRefusedError, match="verdict denies"):
        site.jobs.approve("job-1", "dr.hansen", "I insist")
    assert site.jobs.get("job-1").state is JobState.PENDING
    assert site.jobs.get("job-1").approvals == ()
    assert _refusal_whys(site) == ["verdict_denies"]


def test_approver_must_be_listed(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db")
    site.jobs.register_pending(manifest(), ALLOW)
    with pytest.raises(ApprovalRefusedError, match="not an approver"):
        site.jobs.approve("job-1", "mallory", "trust me")
    assert _refusal_whys(site) == ["not_an_approver"]


def test_no_policy_means_nobody_approves(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", approvers=())
    site.jobs.register_pending(manifest(), ALLOW)
    with pytest.raises(ApprovalRefusedError):
        site.jobs.approve("job-1", "dr.hansen", "ok")


def test_four_eyes(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", required=2)
    site.jobs.register_pending(manifest(dp=dp()), ALLOW)
    first = site.jobs.approve("job-1", "dr.hansen", "config reviewed")
    assert first.state is JobState.PENDING
    assert not site.jobs.is_approved("job-1", DIGEST_A)
    assert site.ledger.reservation("job-1") is None  # budget is reserved on the last approval only
    with pytest.raises(ApprovalRefusedError, match="already decided"):
        site.jobs.approve("job-1", "  DR.Hansen ", "approving twice")  # same person, other spelling
    second = site.jobs.approve("job-1", "dr.larsen", "agree")
    assert second.state is JobState.APPROVED
    assert {a.approver for a in second.approvals} == {"dr.hansen", "dr.larsen"}
    assert all(a.digest == DIGEST_A for a in second.approvals)
    assert site.jobs.is_approved("job-1", DIGEST_A)
    with pytest.raises(ApprovalRefusedError, match="not pending"):
        site.jobs.approve("job-1", "privacy.officer", "late")
    assert [r.event for r in site.audit.records(job_id="job-1")] == [
        "job:pending",
        "job:approval_recorded",
        "job:approval_refused",
        "budget:reserved",
        "job:approved",
        "job:approval_refused",
    ]


def test_concurrent_approvals_by_two_people(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", required=2)
    site.jobs.register_pending(manifest(dp=dp()), ALLOW)
    errors: list[BaseException] = []

    def approve(who: str) -> None:
        try:
            site.jobs.approve("job-1", who, "ok")
        except FednodeError as exc:  # pragma: no cover - would fail the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("dr.hansen", "dr.larsen")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert site.jobs.get("job-1").state is JobState.APPROVED
    assert len(site.audit.records(events=[AuditEvent.BUDGET_RESERVED])) == 1


@pytest.fixture
def totp_site(tmp_path: Path) -> tuple[Site, FileTotpVerifier, str]:
    verifier = FileTotpVerifier(tmp_path / "totp")
    secret = verifier.enroll("dr.hansen", site="site-oslo").secret
    site = make_site(tmp_path / "state.db", totp_required=True, totp=verifier)
    site.jobs.register_pending(manifest(), ALLOW)
    return site, verifier, secret


def test_totp_missing_wrong_and_good(totp_site: tuple[Site, FileTotpVerifier, str]) -> None:
    site, _, secret = totp_site
    with pytest.raises(ApprovalRefusedError, match="requires a TOTP"):
        site.jobs.approve("job-1", "dr.hansen", "ok")
    good = pyotp.TOTP(secret).at(site.clock.now)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(ApprovalRefusedError, match="wrong or expired"):
        site.jobs.approve("job-1", "dr.hansen", "ok", totp_code=wrong)
    with pytest.raises(ApprovalRefusedError, match="wrong or expired"):
        site.jobs.approve("job-1", "dr.larsen", "ok", totp_code=good)  # not enrolled: another person's code
    approved = site.jobs.approve("job-1", "dr.hansen", "ok", totp_code=good)
    assert approved.state is JobState.APPROVED
    assert approved.approvals[0].second_factor is True
    assert _refusal_whys(site) == ["totp_missing", "totp_bad", "totp_bad"]


def test_totp_code_cannot_be_replayed(tmp_path: Path) -> None:
    verifier = FileTotpVerifier(tmp_path / "totp")
    secret = verifier.enroll("dr.hansen", site="s").secret
    site = make_site(tmp_path / "state.db", totp_required=True, totp=verifier)
    site.jobs.register_pending(manifest("job-1"), ALLOW)
    site.jobs.register_pending(manifest("job-2"), ALLOW)
    code = pyotp.TOTP(secret).at(site.clock.now)
    site.jobs.approve("job-1", "dr.hansen", "ok", totp_code=code)
    with pytest.raises(ApprovalRefusedError, match="already used"):
        site.jobs.approve("job-2", "dr.hansen", "ok", totp_code=code)


def test_totp_window_and_format() -> None:
    secret = pyotp.random_base32()
    from tests.policies.statekit import T0

    code = pyotp.TOTP(secret).at(T0)
    assert verify_code(secret, code, T0) == int(T0.timestamp()) // 30
    assert verify_code(secret, code, T0.replace(minute=T0.minute + 5)) is None  # five minutes later: expired
    assert verify_code(secret, "12ab56", T0) is None
    assert verify_code(secret, "", T0) is None


def test_totp_secret_file_is_private(tmp_path: Path) -> None:
    verifier = FileTotpVerifier(tmp_path / "totp")
    verifier.enroll("dr.hansen", site="s")
    files = list((tmp_path / "totp").iterdir())
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    assert "hansen" not in files[0].name  # named by a hash, not the person's name
    with pytest.raises(FednodeError, match="already enrolled"):
        verifier.enroll("dr.hansen", site="s")


def test_budget_exceeded_on_last_approval_keeps_job_pending(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", budget=2.5)
    site.jobs.register_pending(manifest("job-1", dp=dp()), ALLOW)
    site.jobs.register_pending(manifest("job-2", dp=dp()), ALLOW)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    with pytest.raises(BudgetExceededError):
        site.jobs.approve("job-2", "dr.hansen", "ok")
    job2 = site.jobs.get("job-2")
    assert job2.state is JobState.PENDING and job2.approvals == ()  # the approval rolled back with the budget
    assert _refusal_whys(site) == ["budget"]
    assert len(site.audit.records(events=[AuditEvent.BUDGET_REFUSED])) == 1
    # rejecting job-1 releases its budget; job-2 now fits
    site.jobs.reject("job-1", "dr.larsen", "withdrawn by the study lead")
    assert site.jobs.approve("job-2", "dr.hansen", "ok").state is JobState.APPROVED


def test_reject_rules(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", required=2)
    site.jobs.register_pending(manifest(), ALLOW)
    with pytest.raises(ApprovalRefusedError):
        site.jobs.reject("job-1", "mallory", "no")
    with pytest.raises(ApprovalRefusedError, match="reason"):
        site.jobs.reject("job-1", "dr.hansen", "   ")
    rejected = site.jobs.reject("job-1", "dr.hansen", "uses columns outside the DUA")
    assert rejected.state is JobState.REJECTED and rejected.state_reason == "uses columns outside the DUA"
    with pytest.raises(JobStateError):
        site.jobs.reject("job-1", "dr.larsen", "again")


def test_cli_jobs_approve_reject(fednode_home: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "policies" / "examples" / "site-policy.yaml"
    text = example.read_text(encoding="utf-8").replace("totp_required: true", "totp_required: false")
    text = text.replace("\napproval:\n", "\napproval:\n  identity: name\n")  # typed names (signed: test_approver_keys)
    (fednode_home / "policy.yaml").write_text(text, encoding="utf-8")
    from fednode.settings import load_settings
    from policies.state_db import open_state_db

    db = open_state_db(load_settings(home=fednode_home), require_policy=True)
    approvers = db.jobs.rules.approvers
    required = db.jobs.rules.required_approvals
    db.jobs.register_pending(manifest("job-1"), ALLOW)
    db.jobs.register_pending(manifest("job-2"), DENY)
    db.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["--json", "jobs"])
    assert listed.exit_code == 0, listed.output
    assert {j["job_id"] for j in json.loads(listed.stdout)["jobs"]} == {"job-1", "job-2"}
    denied = runner.invoke(app, ["--json", "approve", "job-2", "--reason", "x", "--approver", approvers[0]])
    assert denied.exit_code == 3
    assert json.loads(denied.stdout)["error"] == "ApprovalRefusedError"
    for who in approvers[:required]:
        ok = runner.invoke(app, ["--json", "approve", "job-1", "--reason", "reviewed", "--approver", who])
        assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["job"]["state"] == "approved"
    rejected = runner.invoke(app, ["--json", "reject", "job-2", "--reason", "byoc", "--approver", approvers[0]])
    assert rejected.exit_code == 0
    assert json.loads(rejected.stdout)["job"]["state"] == "rejected"
    missing = runner.invoke(app, ["--json", "approve", "nope", "--reason", "x", "--approver", approvers[0]])
    assert missing.exit_code == 4
    shown = runner.invoke(app, ["--json", "ledger", "show"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["datasets"]


def test_cli_enroll_and_approve_with_totp(fednode_home: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "policies" / "examples" / "site-policy.yaml"
    text = example.read_text(encoding="utf-8").replace("\napproval:\n", "\napproval:\n  identity: name\n")
    (fednode_home / "policy.yaml").write_text(text, encoding="utf-8")
    from fednode.settings import load_settings
    from policies.state_db import open_state_db

    db = open_state_db(load_settings(home=fednode_home), require_policy=True)
    assert db.jobs.rules.totp_required
    who = db.jobs.rules.approvers[0]
    db.jobs.register_pending(manifest("job-1"), ALLOW)
    db.close()
    runner = CliRunner()
    stranger = runner.invoke(app, ["--json", "approvers", "enroll", "mallory"])
    assert stranger.exit_code == 3
    enrolled = runner.invoke(app, ["--json", "approvers", "enroll", who])
    assert enrolled.exit_code == 0, enrolled.output
    secret = json.loads(enrolled.stdout)["secret"]
    no_code = runner.invoke(app, ["--json", "approve", "job-1", "--reason", "ok", "--approver", who])
    assert no_code.exit_code == 3 and "TOTP" in json.loads(no_code.stdout)["message"]
    ok = runner.invoke(
        app, ["--json", "approve", "job-1", "--reason", "ok", "--approver", who, "--totp", pyotp.TOTP(secret).now()]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["job"]["approvals"][0]["second_factor"] is True
