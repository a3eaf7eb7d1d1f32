"""The demo approves the way a site does (issue 14): its approvers' own keys, made in the workdir (never in a site
home), enrolled in each site policy, and the scripted approval signed with one of them."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from fednode.settings import load_settings
from node.local.demo import APPROVER, APPROVER_KEYS, DEMO_APPROVERS, approve_as_demo, demo_approver_keys, site_policy
from policies.approver_keys import ApproverKey, Sshsig
from policies.contracts import JobState
from policies.state_db import open_state_db
from tests.policies.statekit import ALLOW, manifest


def test_the_demo_signs_its_scripted_approval_with_an_enrolled_key_kept_outside_the_homes(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    home = workdir / "homes" / "site-1"
    home.mkdir(parents=True)
    keys = demo_approver_keys(workdir)
    assert set(keys) == set(DEMO_APPROVERS) and demo_approver_keys(workdir) == keys  # made once, then reused
    private = workdir / APPROVER_KEYS / APPROVER
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")  # ssh-add can load it
    (home / "policy.yaml").write_text(
        yaml.safe_dump(site_policy("site-1", sites=2, min_records=10, approver_keys=keys)), encoding="utf-8"
    )
    db = open_state_db(load_settings(home=home, site_name="site-1"), require_policy=True)
    assert db.jobs.rules.signed and len({k.fingerprint for _, k in db.jobs.rules.keys}) == 2
    db.jobs.register_pending(manifest("job-1"), ALLOW)
    db.close()

    approve_as_demo(home, "site-1", "job-1")

    db = open_state_db(load_settings(home=home, site_name="site-1"), require_policy=True)
    try:
        record = db.jobs.get("job-1")
    finally:
        db.close()
    assert record.state is JobState.APPROVED
    (approval,) = record.approvals
    assert approval.approver == APPROVER
    Sshsig.parse(approval.signature).verify(approval.statement.encode(), ApproverKey.parse(keys[APPROVER]))
    assert not any("OPENSSH PRIVATE KEY" in p.read_text(errors="ignore") for p in home.rglob("*") if p.is_file())


def test_without_keys_the_demo_policy_trusts_names() -> None:
    assert site_policy("site-1", sites=2, min_records=10)["approval"]["identity"] == "name"
