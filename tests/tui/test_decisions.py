"""Approve and reject through the dashboard, keyboard only, against the real registry and audit log."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from fednode.errors import ApprovalRefusedError
from policies.contracts import JobKind, JobState
from tests.tui.pilotkit import jobs_loaded, type_text, until
from tests.tui.sitekit import EVIL, Site, manifest, open_site
from tui import make_app
from tui.screens.decision_dialog import DecisionDialog
from tui.screens.error_dialog import ErrorDialog
from tui.screens.review import JobReviewScreen

SIZE = (80, 24)


async def _open_review_and_press(pilot: Pilot[None], key: str) -> None:
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, JobReviewScreen) and pilot.app.screen.rules is not None)
    await pilot.press(key)


async def _fill(pilot: Pilot[None], approver: str, reason: str, code: str | None = None) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, DecisionDialog))
    await type_text(pilot, approver)
    await pilot.press("enter")
    await type_text(pilot, reason)
    await pilot.press("enter")
    if code is not None:
        await type_text(pilot, code)
        await pilot.press("enter")


def test_approve_with_one_approver_releases_the_job(single_site: Site) -> None:
    asyncio.run(_approve_with_one_approver_releases_the_job(single_site))


async def _approve_with_one_approver_releases_the_job(single_site: Site) -> None:
    single_site.register(manifest("job-1"))
    app = make_app(single_site.settings, single_site.desk, clock=single_site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await _open_review_and_press(pilot, "a")
        await _fill(pilot, "dr.hansen", "DPIA 2026-14 covers this study")
        await until(pilot, lambda: single_site.desk.job("job-1").state is JobState.APPROVED)
        await app.workers.wait_for_complete()

    record = single_site.desk.job("job-1")
    assert [(a.approver, a.decision, a.reason) for a in record.approvals] == [
        ("dr.hansen", "approve", "DPIA 2026-14 covers this study")
    ]
    assert record.approvals[0].digest == record.manifest.digest
    assert single_site.desk.state.jobs.is_approved("job-1", record.manifest.digest)
    events = single_site.events("job-1")
    assert events[0] == "job:pending" and events[-1] == "job:approved"
    assert "budget:reserved" in events
    reservation = single_site.desk.state.ledger.reservation("job-1")
    assert reservation is not None and reservation.reserved_epsilon > 0


def test_reject_needs_a_reason_and_is_recorded(single_site: Site) -> None:
    asyncio.run(_reject_needs_a_reason_and_is_recorded(single_site))


async def _reject_needs_a_reason_and_is_recorded(single_site: Site) -> None:
    single_site.register(manifest("job-1"))
    app = make_app(single_site.settings, single_site.desk, clock=single_site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await _open_review_and_press(pilot, "r")
        await _fill(pilot, "dr.larsen", "")  # Enter on an empty reason: the dialog refuses to send it
        dialog = app.screen
        assert isinstance(dialog, DecisionDialog)
        assert "reason is required" in str(dialog.query_one("#decision-problem", Label).render())
        assert single_site.desk.job("job-1").state is JobState.PENDING
        await type_text(pilot, "scope creep: reads notes beyond the DUA")
        await pilot.press("enter")
        await until(pilot, lambda: single_site.desk.job("job-1").state is JobState.REJECTED)
        await app.workers.wait_for_complete()

    record = single_site.desk.job("job-1")
    assert record.state_reason == "scope creep: reads notes beyond the DUA"
    assert [(a.approver, a.decision) for a in record.approvals] == [("dr.larsen", "reject")]
    assert single_site.events("job-1") == ["job:pending", "job:rejected"]


def test_four_eyes_with_totp_needs_two_distinct_approvers(site: Site) -> None:
    asyncio.run(_four_eyes_with_totp_needs_two_distinct_approvers(site))


async def _four_eyes_with_totp_needs_two_distinct_approvers(site: Site) -> None:
    hansen, larsen = site.enroll("dr.hansen"), site.enroll("dr.larsen")
    site.register(manifest("job-1"))
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await _open_review_and_press(pilot, "a")
        await _fill(pilot, "dr.hansen", "first reviewer: code matches the study protocol", site.code(hansen))
        await until(pilot, lambda: len(site.desk.job("job-1").approvals) == 1)
        await app.workers.wait_for_complete()
        assert site.desk.job("job-1").state is JobState.PENDING

        # the same person again: the dialog names the rule and sends nothing
        await pilot.press("a")
        await _fill(pilot, "dr.hansen", "again", site.code(hansen))
        dialog = app.screen
        assert isinstance(dialog, DecisionDialog)
        assert "second, different approver" in str(dialog.query_one("#decision-problem", Label).render())
        await pilot.press("escape")

        await pilot.press("a")
        await _fill(pilot, "dr.larsen", "second reviewer: DP settings within policy", site.code(larsen))
        await until(pilot, lambda: site.desk.job("job-1").state is JobState.APPROVED)
        await app.workers.wait_for_complete()

    record = site.desk.job("job-1")
    assert sorted(a.approver for a in record.approvals) == ["dr.hansen", "dr.larsen"]
    assert all(a.second_factor for a in record.approvals)
    events = site.events("job-1")
    assert events.count("job:approval_recorded") == 1
    assert events[-1] == "job:approved"
    assert "job:approval_refused" not in events


def test_wrong_totp_code_is_refused_audited_and_shown(site: Site) -> None:
    asyncio.run(_wrong_totp_code_is_refused_audited_and_shown(site))


async def _wrong_totp_code_is_refused_audited_and_shown(site: Site) -> None:
    secret = site.enroll("dr.hansen")
    site.register(manifest("job-1"))
    wrong = "000000" if site.code(secret) != "000000" else "111111"
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await _open_review_and_press(pilot, "a")
        await _fill(pilot, "dr.hansen", "looks fine", wrong)
        await until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        error = app.screen
        assert isinstance(error, ErrorDialog)
        assert error.error_title == "ApprovalRefusedError"
        assert "TOTP" in error.error_message
        await pilot.press("enter")
        assert isinstance(app.screen, JobReviewScreen)

    record = site.desk.job("job-1")
    assert record.state is JobState.PENDING and record.approvals == ()
    refused = site.desk.state.audit.records(job_id="job-1", events=["job:approval_refused"])
    assert [(r.actor, r.details["why"]) for r in refused] == [("dr.hansen", "totp_bad")]


def test_a_refused_approval_is_audited(site: Site) -> None:
    site.enroll("dr.hansen")
    site.register(manifest("job-1"))
    with pytest.raises(ApprovalRefusedError):
        site.desk.approve("job-1", "dr.hansen", "looks fine", "000000")
    refused = site.desk.state.audit.records(job_id="job-1", events=["job:approval_refused"])
    assert [(r.actor, r.details["why"]) for r in refused] == [("dr.hansen", "totp_bad")]


def test_a_denying_verdict_cannot_be_approved(single_site: Site) -> None:
    asyncio.run(_a_denying_verdict_cannot_be_approved(single_site))


async def _a_denying_verdict_cannot_be_approved(single_site: Site) -> None:
    single_site.register(manifest("job-evil", kind=JobKind.BYOC, files={"custom/evil.py": EVIL}))
    assert not single_site.desk.job("job-evil").verdict.allowed
    app = make_app(single_site.settings, single_site.desk, clock=single_site.clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await jobs_loaded(pilot, 1)
        await _open_review_and_press(pilot, "a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, JobReviewScreen)  # no dialog opened
        assert any("cannot be approved" in n.message for n in app._notifications)
        # rejecting it is still possible
        await pilot.press("r")
        await _fill(pilot, "privacy.officer", "network access and pickle in job code")
        await until(pilot, lambda: single_site.desk.job("job-evil").state is JobState.REJECTED)
        await app.workers.wait_for_complete()

    record = single_site.desk.job("job-evil")
    assert [a.decision for a in record.approvals] == ["reject"]
    events = single_site.events("job-evil")
    assert "job:approved" not in events and "job:approval_recorded" not in events


def test_approve_pressed_while_the_review_loads_opens_the_dialog_once_loaded(
    single_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_approve_pressed_while_loading(single_site, monkeypatch))


async def _approve_pressed_while_loading(single_site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    single_site.register(manifest("job-1"))
    release = threading.Event()
    read_rules = single_site.desk.approval_rules

    def slow_rules() -> object:
        release.wait(10)  # a loaded machine: the review's worker has not read the rules yet
        return read_rules()

    monkeypatch.setattr(single_site.desk, "approval_rules", slow_rules)
    app = make_app(single_site.settings, single_site.desk, clock=single_site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, JobReviewScreen))
        await pilot.press("a")  # before the rules are read: the key is not lost
        await pilot.pause(0.2)
        assert not isinstance(pilot.app.screen, DecisionDialog)
        release.set()
        await until(pilot, lambda: isinstance(pilot.app.screen, DecisionDialog))
        await _fill(pilot, "dr.hansen", "DPIA 2026-14 covers this study")
        await until(pilot, lambda: single_site.desk.job("job-1").state is JobState.APPROVED)
        await app.workers.wait_for_complete()


@pytest.mark.skipif(not __import__("shutil").which("ssh-agent"), reason="OpenSSH (ssh-agent) not installed")
def test_four_eyes_by_two_keys_through_the_forwarded_agent(fednode_home: Path, tmp_path: Path) -> None:
    """Issue 14: the dashboard asks the approver's SSH agent to sign; two enrolled keys release the job, a name
    whose key the agent does not hold is refused and shown."""
    from tests.policies.approverkit import make_key, running_agent

    laptops = tmp_path / "laptops"
    laptops.mkdir()
    pairs = {who: make_key(laptops, who) for who in ("dr.hansen", "dr.larsen")}
    keys = {who: public.openssh for who, (_, public) in pairs.items()}
    site = open_site(fednode_home, totp_required=False, identity="key", keys=keys)
    site.register(manifest("job-1"))
    try:
        with running_agent(tmp_path, pairs["dr.hansen"][0], pairs["dr.larsen"][0]) as sock:
            site.desk.agent_socket = sock
            asyncio.run(_four_eyes_by_two_keys(site))
    finally:
        site.desk.close()


async def _four_eyes_by_two_keys(site: Site) -> None:
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await _open_review_and_press(pilot, "a")
        assert app.screen.query_one("#decision-signed") is not None
        await _fill(pilot, "dr.hansen", "first reviewer")
        await until(pilot, lambda: len(site.desk.job("job-1").approvals) == 1)
        await app.workers.wait_for_complete()
        await pilot.press("a")
        await _fill(pilot, "privacy.officer", "no key enrolled")  # the dialog names the rule and sends nothing
        dialog = app.screen
        assert isinstance(dialog, DecisionDialog)
        assert "no key enrolled" in str(dialog.query_one("#decision-problem", Label).render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobReviewScreen))
        await pilot.press("a")
        await _fill(pilot, "dr.larsen", "second reviewer")
        await until(pilot, lambda: site.desk.job("job-1").state is JobState.APPROVED)
        await app.workers.wait_for_complete()
    record = site.desk.job("job-1")
    assert len({a.key_fingerprint for a in record.approvals}) == 2
    assert all(a.signature.startswith("-----BEGIN SSH SIGNATURE-----") for a in record.approvals)
