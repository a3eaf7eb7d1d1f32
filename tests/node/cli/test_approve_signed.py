"""`fednode approve` with approvers' own keys: `--statement`, a detached `ssh-keygen -Y sign` signature, the SSH
agent (SSH_AUTH_SOCK), and the refusals (exit 3, audited) for keys the policy does not enrol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from policies.audit import AuditEvent
from tests.policies.approverkit import make_key, needs_openssh, running_agent
from tests.tui.sitekit import Site, manifest, open_site

pytestmark = needs_openssh


@pytest.fixture
def keyed(fednode_home: Path, tmp_path: Path) -> Iterator[tuple[Site, dict[str, Path]]]:
    """Four eyes by key, no TOTP; the approvers' private keys lie outside the site home; job-1 pending."""
    folder = tmp_path / "laptops"
    folder.mkdir()
    pairs = {who: make_key(folder, who) for who in ("dr.hansen", "dr.larsen")}
    site = open_site(
        fednode_home, totp_required=False, identity="key", keys={w: k.openssh for w, (_, k) in pairs.items()}
    )
    site.register(manifest("job-1"))
    yield site, {who: private for who, (private, _) in pairs.items()}
    site.desk.close()


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def _sign(private: Path, statement: Path) -> Path:
    import subprocess

    Path(f"{statement}.sig").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", "fednode-approval", "-f", str(private), str(statement)],
        check=True,
        capture_output=True,
    )
    return Path(f"{statement}.sig")


def test_detached_signature_and_agent_meet_four_eyes(keyed: tuple[Site, dict[str, Path]], tmp_path: Path) -> None:
    site, private = keyed
    code, out, _ = _run("approve", "job-1", "--statement")
    assert code == 0 and out.startswith("fednode-approval-v1\njob: job-1\n") and "site: site-oslo\n" in out
    statement = tmp_path / "st.txt"
    statement.write_text(out, encoding="utf-8")
    signature = _sign(private["dr.hansen"], statement)
    code, out, err = _run("--json", "approve", "job-1", "--reason", "reviewed", "--signature", str(signature))
    assert code == 0, out + err
    first = json.loads(out)["job"]
    assert first["state"] == "pending" and first["approvals"][0]["approver"] == "dr.hansen"
    with running_agent(tmp_path, private["dr.larsen"]) as sock:
        code, out, err = _run("--json", "approve", "job-1", "--reason", "agree", env={"SSH_AUTH_SOCK": str(sock)})
    assert code == 0, out + err
    assert json.loads(out)["job"]["state"] == "approved"
    keys = [a.key_fingerprint for a in site.desk.state.jobs.get("job-1").approvals]
    assert len(set(keys)) == 2 and all(k.startswith("SHA256:") for k in keys)
    code, out, _ = _run("--json", "jobs", "--job", "job-1")
    assert code == 0 and [a["key"] for a in json.loads(out)["job"]["approvals"]] == keys
    code, out, _ = _run("jobs", "--job", "job-1")
    assert code == 0 and f"signed by key {keys[0]}" in out.replace("\n", "")


def test_a_key_the_policy_does_not_enrol_is_refused_and_audited(
    keyed: tuple[Site, dict[str, Path]], tmp_path: Path
) -> None:
    site, private = keyed
    stranger, _ = make_key(tmp_path, "operator")
    statement = tmp_path / "st.txt"
    statement.write_text(_run("approve", "job-1", "--statement")[1], encoding="utf-8")
    signature = _sign(stranger, statement)
    code, _, err = _run(
        "approve", "job-1", "--reason", "alone", "--approver", "dr.hansen", "--signature", str(signature)
    )
    assert code == 3 and "not enrolled" in err
    code, _, err = _run(
        "approve", "job-1", "--reason", "as larsen", "--approver", "dr.larsen",
        "--signature", str(_sign(private["dr.hansen"], statement)),
    )  # fmt: skip
    assert code == 3 and "enrolled for 'dr.hansen', not 'dr.larsen'" in err
    code, _, err = _run("approve", "job-1", "--reason", "by name", "--approver", "dr.hansen", env={"SSH_AUTH_SOCK": ""})
    assert code == 3 and "no SSH agent" in err
    whys = [r.details["why"] for r in site.desk.state.audit.records(events=[AuditEvent.JOB_APPROVAL_REFUSED])]
    assert whys == ["key_not_enrolled", "key_of_another"]
    assert site.desk.state.jobs.get("job-1").approvals == ()


def test_totp_secrets_live_in_their_own_folder_outside_the_home(
    fednode_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``policy.totp_dir`` (the image: a volume of its own): enrolment writes there, approvals read there, and
    the site home holds no secret an operator of the home could copy."""
    import pyotp

    totp_dir = tmp_path / "totp-volume"
    monkeypatch.setenv("FEDNODE_POLICY__TOTP_DIR", str(totp_dir))
    site = open_site(fednode_home, required_approvals=1, totp_required=True)  # name mode + TOTP
    site.desk.close()
    code, out, err = _run("--json", "approvers", "enroll", "dr.hansen")
    assert code == 0, out + err
    secret = json.loads(out)["secret"]
    assert [p.suffix for p in totp_dir.iterdir()] == [".b32"]
    assert not (fednode_home / "keys" / "totp").exists()
    reopened = open_site(fednode_home, required_approvals=1, totp_required=True)
    reopened.register(manifest("job-1"))
    reopened.desk.close()
    code, out, err = _run(
        "approve", "job-1", "--reason", "ok", "--approver", "dr.hansen", "--totp", pyotp.TOTP(secret).now()
    )
    assert code == 0, out + err


def test_receipt_verify_checks_the_approvers_signatures_against_the_policy(
    keyed: tuple[Site, dict[str, Path]], tmp_path: Path
) -> None:
    import yaml

    site, private = keyed
    home = site.home
    for who in ("dr.hansen", "dr.larsen"):
        statement = tmp_path / f"{who}.txt"
        statement.write_text(_run("approve", "job-1", "--statement")[1], encoding="utf-8")
        signature = _sign(private[who], statement)
        assert _run("approve", "job-1", "--reason", "ok", "--signature", str(signature))[0] == 0
    receipt = tmp_path / "receipt.json"
    assert _run("receipt", "issue", "job-1", "--out", str(receipt))[0] == 0
    pub = str(home / "keys" / "site.ed25519.pub")
    code, out, err = _run(
        "--json", "receipt", "verify", str(receipt), "--public-key", pub, "--policy", str(home / "policy.yaml")
    )
    assert code == 0, out + err
    payload = json.loads(out)
    assert payload["approvers_signed"] == ["dr.hansen", "dr.larsen"] and payload["approvers_checked_against_policy"]
    swapped = yaml.safe_load((home / "policy.yaml").read_text(encoding="utf-8"))
    keys = swapped["approval"]["keys"]
    keys["dr.hansen"], keys["dr.larsen"] = keys["dr.larsen"], keys["dr.hansen"]
    other = tmp_path / "other-policy.yaml"
    other.write_text(yaml.safe_dump(swapped), encoding="utf-8")
    code, _, err = _run("receipt", "verify", str(receipt), "--public-key", pub, "--policy", str(other))
    assert code == 5 and "did not sign with the key the site policy enrols" in err


def test_approvers_keys_lists_each_enrolled_key_with_its_fingerprint(keyed: tuple[Site, dict[str, Path]]) -> None:
    site, _ = keyed
    code, out, _ = _run("--json", "approvers", "keys")
    assert code == 0
    rows = {r["approver"]: r for r in json.loads(out)["approvers"]}
    enrolled = dict(site.desk.state.jobs.rules.keys)
    assert rows["dr.hansen"]["fingerprint"] == enrolled["dr.hansen"].fingerprint
    assert rows["privacy.officer"]["fingerprint"] is None
    code, out, _ = _run("approvers", "keys")
    assert code == 0 and "privacy.officer: no key enrolled" in out and "signed by their own keys" in out
