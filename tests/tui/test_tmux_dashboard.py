"""The real ``fednode dashboard`` in tmux: a pending job registered through the registry is approved with
keystrokes by two approvers with TOTP codes, and the registry and audit log say so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fednode.settings import Settings
from node.site.desk import SiteDesk
from policies.contracts import JobState
from tests.tui.sitekit import manifest, open_site
from tests.tui.tmuxkit import TmuxDashboard, have_tmux

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")]


@pytest.fixture
def dashboard(fednode_home: Path) -> Iterator[TmuxDashboard]:
    tmux = TmuxDashboard(fednode_home)
    yield tmux
    tmux.close()


def _state(home: Path) -> SiteDesk:
    return SiteDesk.from_settings(Settings(home=home))


def test_two_approvers_release_a_pending_job_with_keystrokes(fednode_home: Path, dashboard: TmuxDashboard) -> None:
    site = open_site(fednode_home)  # four eyes + TOTP, as the example policy asks
    secrets = {name: site.enroll(name) for name in ("dr.hansen", "dr.larsen")}
    site.register(manifest("job-1"))
    digest = site.desk.job("job-1").manifest.digest
    site.desk.close()

    dashboard.start()
    dashboard.wait_for("job-1")
    dashboard.wait_for("1 pending")
    dashboard.keys("Enter")
    dashboard.wait_for("approvals 0/2")

    dashboard.approve("dr.hansen", "protocol v1 reviewed", secrets["dr.hansen"])
    dashboard.wait_for("approvals 1/2")
    dashboard.approve("dr.larsen", "DP settings within policy", secrets["dr.larsen"])
    dashboard.wait_for("approved")

    dashboard.keys("Escape")
    dashboard.wait_for("0 pending")
    dashboard.keys("q")
    assert dashboard.exit_code() == 0

    desk = _state(fednode_home)
    try:
        record = desk.job("job-1")
        assert record.state is JobState.APPROVED
        assert sorted((a.approver, a.second_factor) for a in record.approvals) == [
            ("dr.hansen", True),
            ("dr.larsen", True),
        ]
        assert desk.state.jobs.is_approved("job-1", digest)  # what the gate asks before it lets the job deploy
        events = [r.event for r in desk.state.audit.records(job_id="job-1")]
        assert events[0] == "job:pending"
        assert events[-1] == "job:approved"
        assert "job:approval_recorded" in events
        assert desk.verify_audit().ok
    finally:
        desk.close()
