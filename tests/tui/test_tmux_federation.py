"""The real ``fednode dashboard`` in tmux at a site of a real NVFlare POC federation: a coordinator and two sites as
processes (gRPC with mutual TLS on loopback), a study submitted through the FLARE API and held by every site's
approval gate. The other site approves as the scripted demo does; at this site two approvers release the job with
keystrokes and TOTP codes; the gate lets it through, the coordinator runs it, and the dashboard shows it running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fednode.settings import load_settings
from node.coordinator.launcher import LocalFederation
from node.coordinator.study import StudyClient, StudySpec, build_job
from node.local import demo
from node.local.demo import Consortium, DemoConfig, approve_as_demo, prepare_consortium
from node.local.harness import Steps
from node.site.desk import SiteDesk
from policies.contracts import JobRecord, JobState
from tests.tui.tmuxkit import TmuxDashboard, have_tmux

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not have_tmux(), reason="tmux is not installed"),
]

HERE = "site-1"
"""The site whose people decide in the dashboard; the other one approves as ``fednode demo --auto-approve``."""
OTHER = "site-2"
APPROVERS = ("dr.hansen", "dr.larsen")
STARTED = (JobState.RUNNING, JobState.FINISHED)
"""Started: running, or already done (the tiny study is quick)."""
_demo_policy = demo.site_policy


def _four_eyes_policy(
    site: str, *, sites: int, min_records: int, byoc: bool = False, approver_keys: Any = None
) -> dict[str, Any]:
    """The demo's site policy; at this site two distinct approvers, each with a TOTP code."""
    policy = _demo_policy(site, sites=sites, min_records=min_records, byoc=byoc, approver_keys=approver_keys)
    if site == HERE:
        policy["approval"] = {  # typed names + TOTP in tmux (signed approvals: tests/tui/test_decisions.py)
            "approvers": list(APPROVERS),
            "required_approvals": 2,
            "totp_required": True,
            "identity": "name",
        }
    return policy


@dataclass
class Federation:
    consortium: Consortium
    client: StudyClient

    def desk(self, site: str) -> SiteDesk:
        return SiteDesk.from_settings(load_settings(home=self.consortium.homes[site], site_name=site))

    def record(self, site: str, job_id: str) -> JobRecord | None:
        desk = self.desk(site)
        try:
            return next((j for j in desk.list_jobs() if j.job_id == job_id), None)
        finally:
            desk.close()

    def state(self, site: str, job_id: str) -> JobState | None:
        record = self.record(site, job_id)
        return None if record is None else record.state


@pytest.fixture
def federation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Federation]:
    """Two hospitals (tiny data) and a coordinator, started; every process stopped afterwards, also on failure."""
    monkeypatch.setattr(demo, "site_policy", _four_eyes_policy)
    config = DemoConfig(sites=2, sentences=60, model_spec="tiny", rounds=1, workdir=tmp_path / "poc")
    consortium = prepare_consortium(config, Steps(Console(stderr=True), False))
    with LocalFederation(consortium.federation, site_homes=consortium.homes, env=consortium.env) as lf:
        lf.start(timeout_s=180)
        yield Federation(consortium, StudyClient(consortium.federation))


@pytest.fixture
def dashboard(federation: Federation) -> Iterator[TmuxDashboard]:
    tmux = TmuxDashboard(federation.consortium.homes[HERE], env={"FEDNODE_SITE_NAME": HERE})
    yield tmux
    tmux.close()


def _eventually(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.5)


def _enroll(federation: Federation) -> dict[str, str]:
    """Enrol this site's approvers for TOTP, as its operator does; their secrets."""
    desk = federation.desk(HERE)
    try:
        return {name: desk.state.totp.enroll(name, site=HERE).secret for name in APPROVERS}
    finally:
        desk.close()


def _shows(screen: str, job_id: str, state: JobState) -> bool:
    """Whether a line of the screen (the jobs table's row; the id is cut to the column's width) shows the state."""
    return any(job_id[:8] in line and state.value in line for line in screen.splitlines())


def test_a_held_federation_job_is_approved_in_the_dashboard_and_starts(
    federation: Federation, dashboard: TmuxDashboard, tmp_path: Path
) -> None:
    secrets = _enroll(federation)
    spec = StudySpec(
        name="dashboard-approved", sites=(HERE, OTHER), rounds=1, model_spec="tiny", max_examples=40, batch_size=8
    )
    job, digest = build_job(spec, tmp_path / "jobs")
    job_id = federation.client.submit(job)
    _eventually(
        lambda: all(federation.state(s, job_id) is JobState.PENDING for s in (HERE, OTHER)),
        120,
        "every site to hold the job as pending",
    )
    approve_as_demo(federation.consortium.homes[OTHER], OTHER, job_id)

    dashboard.start()
    shown = dashboard.wait_for(job_id[:8], timeout=60)
    assert _shows(shown, job_id, JobState.PENDING), shown
    dashboard.wait_for("1 pending")
    dashboard.keys("Enter")
    dashboard.wait_for("approvals 0/2")

    dashboard.approve("dr.hansen", "protocol reviewed", secrets["dr.hansen"])
    dashboard.wait_for("approvals 1/2")
    assert federation.state(HERE, job_id) is JobState.PENDING  # one person is not enough here
    assert federation.client.status(job_id).status == "SUBMITTED"  # so the job is still held
    dashboard.approve("dr.larsen", "no PHI leaves the site", secrets["dr.larsen"])
    dashboard.wait_for("approvals 2/2")
    dashboard.keys("Escape")
    dashboard.wait_for("0 pending")

    # released by this site's gate: the coordinator schedules it, the sites launch it, the dashboard shows it
    status = federation.client.wait(job_id, until=lambda s: s.status == "RUNNING" or s.done, timeout_s=120, poll_s=0.5)
    assert status.status == "RUNNING", status
    _eventually(lambda: _shows(dashboard.screen(), job_id, JobState.RUNNING), 60, "the dashboard to show it running")
    assert federation.state(HERE, job_id) in STARTED

    desk = federation.desk(HERE)
    try:
        record = desk.job(job_id)
        assert sorted((a.approver, a.second_factor, a.digest) for a in record.approvals) == [
            ("dr.hansen", True, digest),
            ("dr.larsen", True, digest),
        ]
        events = [r.event for r in desk.state.audit.records(job_id=job_id)]
        assert events[0] == "job:pending"
        assert "job:approval_recorded" in events
        assert events.index("job:approved") < events.index("job:running")
        assert desk.verify_audit().ok
    finally:
        desk.close()
