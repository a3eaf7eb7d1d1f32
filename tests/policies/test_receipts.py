"""Signed approval receipts and the site key: issue, verify, detect tampering, refuse the wrong key."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fednode.errors import ConfigError, JobStateError, SignatureError
from node.cli.main import app
from policies.keys import SiteKey, load_or_create_site_key, load_site_public_key, public_key_pem
from policies.receipts import Receipt, issue_receipt, verify_receipt
from tests.policies.statekit import ALLOW, DIGEST_A, Site, load_key_in_process, make_site, manifest


@pytest.fixture
def approved(tmp_path: Path) -> Site:
    site = make_site(tmp_path / "state.db", required=2)
    site.jobs.register_pending(manifest(), ALLOW)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.approve("job-1", "dr.larsen", "ok")
    return site


def test_issue_and_verify(approved: Site) -> None:
    receipt = issue_receipt(
        approved.jobs.get("job-1"), site="site-oslo", key=approved.key, audit_head=approved.audit.head()
    )
    body = verify_receipt(Receipt.loads(receipt.dumps()), approved.key.public_key)
    assert body["job_digest"] == DIGEST_A
    assert body["policy_digest"] == "p" * 64
    assert [a["name"] for a in body["approvers"]] == ["dr.hansen", "dr.larsen"]
    assert body["verdict"]["allowed"] is True
    assert body["audit_head"]["seq"] == approved.audit.head()[0]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("job_digest",), "b" * 64),
        (("site",), "site-evil"),
        (("approvers", 0, "name"), "mallory"),
        (("verdict", "allowed"), False),
    ],
)
def test_tampering_detected(approved: Site, path: tuple[object, ...], value: object) -> None:
    obj = issue_receipt(approved.jobs.get("job-1"), site="site-oslo", key=approved.key).to_json()
    node = obj["body"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    with pytest.raises(SignatureError, match="altered or forged"):
        verify_receipt(Receipt.from_json(obj), approved.key.public_key)


def test_wrong_key_refused(approved: Site) -> None:
    receipt = issue_receipt(approved.jobs.get("job-1"), site="site-oslo", key=approved.key)
    with pytest.raises(SignatureError, match="not by this site"):
        verify_receipt(receipt, SiteKey.generate().public_key)
    forged = Receipt(receipt.body, SiteKey.generate().key_id, receipt.signature)
    with pytest.raises(SignatureError):
        verify_receipt(forged, approved.key.public_key)


def test_pending_job_gets_no_receipt(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db")
    site.jobs.register_pending(manifest(), ALLOW)
    with pytest.raises(JobStateError):
        issue_receipt(site.jobs.get("job-1"), site="s", key=site.key)


def test_site_key_created_once_private_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "site.ed25519.pem"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=load_key_in_process, args=(str(path), str(tmp_path / f"id{i}"))) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ids = {(tmp_path / f"id{i}").read_text() for i in range(3)}
    assert len(ids) == 1  # every racer ended up with the same key
    assert path.stat().st_mode & 0o777 == 0o600
    key = load_or_create_site_key(path)
    assert key.key_id in ids
    assert public_key_pem(load_site_public_key(path)) == key.public_pem
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_site_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.ed25519.pem"
    load_or_create_site_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_site_key(path)


def test_cli_issue_and_verify_receipt(fednode_home: Path) -> None:
    from fednode.settings import load_settings
    from policies.registry import ApprovalRules
    from policies.state_db import open_state_db

    db = open_state_db(load_settings(home=fednode_home))
    db.jobs.rules = ApprovalRules(approvers=("dr.hansen",), identity="name")
    db.jobs.register_pending(manifest(), ALLOW)
    db.jobs.approve("job-1", "dr.hansen", "ok")
    pub = fednode_home / "keys" / "site.ed25519.pub"
    db.close()
    runner = CliRunner()
    out = fednode_home / "receipt.json"
    issued = runner.invoke(app, ["--json", "receipt", "issue", "job-1", "--out", str(out)])
    assert issued.exit_code == 0, issued.output
    ok = runner.invoke(app, ["--json", "receipt", "verify", str(out), "--public-key", str(pub)])
    assert ok.exit_code == 0, ok.output
    tampered = json.loads(out.read_text())
    tampered["body"]["job_digest"] = "0" * 64
    out.write_text(json.dumps(tampered))
    bad = runner.invoke(app, ["--json", "receipt", "verify", str(out), "--public-key", str(pub)])
    assert bad.exit_code == 5


def test_site_key_in_a_keys_folder(tmp_path: Path) -> None:
    folder = tmp_path / "local" / "fednode-keys"
    key = load_or_create_site_key(folder)
    assert (folder / "site.ed25519.pem").is_file() and (folder / "site.ed25519.pub").is_file()
    assert load_or_create_site_key(folder).key_id == key.key_id
    assert public_key_pem(load_site_public_key(folder)) == key.public_pem
