"""Site state from the command line: only `fednode site init` (and the boot) creates state.db and the site key;
read-only commands create nothing, name unknown datasets, and are not locked out by a typo in the site policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app

EXAMPLE_POLICY = Path(__file__).resolve().parents[3] / "policies" / "examples" / "site-policy.yaml"


def _invoke(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(app, ["--json", *args])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}, result.stderr


def _files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []


@pytest.mark.parametrize(
    "args",
    [
        ["receipt", "issue", "job-1"],
        ["approve", "job-1", "--reason", "ok", "--approver", "dr.hansen"],
        ["reject", "job-1", "--reason", "no", "--approver", "dr.hansen"],
        ["ledger", "show", "--dataset", "omop"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_command_on_a_home_without_a_site_says_so_and_creates_nothing(fednode_home: Path, args: list[str]) -> None:
    shutil.copy(EXAMPLE_POLICY, fednode_home / "policy.yaml")  # approve/reject need a policy to get this far
    code, payload, _ = _invoke(*args)
    assert code == 4, payload
    assert payload["error"] == "NotFoundError" and "this home holds no site" in str(payload["message"])
    assert _files(fednode_home) == ["policy.yaml"]


def test_site_init_creates_state_and_key_once_and_says_what_it_found(fednode_home: Path) -> None:
    code, first, _ = _invoke("site", "init")
    assert code == 0, first
    assert first["state_db_created"] is True and first["signing_key_created"] is True
    assert _files(fednode_home) == ["keys", "keys/site.ed25519.pem", "keys/site.ed25519.pub", "state.db"]
    code, again, _ = _invoke("site", "init")
    assert code == 0, again
    assert again["state_db_created"] is False and again["signing_key_created"] is False
    assert again["key_id"] == first["key_id"]
    code, verified, _ = _invoke("audit", "verify")
    assert code == 0 and verified["ok"] is True, verified


def test_a_read_only_command_never_creates_a_missing_site_key(fednode_home: Path) -> None:
    assert _invoke("site", "init")[0] == 0
    for name in ("site.ed25519.pem", "site.ed25519.pub"):
        (fednode_home / "keys" / name).unlink()
    for args in (["audit", "verify"], ["audit", "export", "--out", str(fednode_home / "x.jsonl")], ["ledger", "show"]):
        code, payload, _ = _invoke(*args)
        assert code == 4 and "no site signing key" in str(payload["message"]), (args, payload)
    assert _files(fednode_home) == ["keys", "state.db"]


def test_ledger_show_names_an_unknown_dataset_and_lists_the_known_ones(fednode_home: Path) -> None:
    shutil.copy(EXAMPLE_POLICY, fednode_home / "policy.yaml")
    assert _invoke("site", "init")[0] == 0
    code, payload, _ = _invoke("ledger", "show", "--dataset", "nope")
    assert code == 4 and payload["error"] == "NotFoundError", payload
    assert "--dataset nope" in str(payload["message"]) and "known: omop" in str(payload["message"])
    code, shown, _ = _invoke("ledger", "show", "--dataset", "omop")
    assert code == 0 and [d["dataset"] for d in shown["datasets"]] == ["omop"]  # type: ignore[attr-defined]


def test_a_typo_in_the_policy_warns_read_only_commands_and_stops_the_ones_that_need_it(fednode_home: Path) -> None:
    policy = fednode_home / "policy.yaml"
    shutil.copy(EXAMPLE_POLICY, policy)
    assert _invoke("site", "init")[0] == 0
    policy.write_text(EXAMPLE_POLICY.read_text().replace("max_rounds: 50", "max_rouns: 50"))
    for args in (["audit", "verify"], ["jobs"], ["ledger", "show"]):
        code, payload, err = _invoke(*args)
        assert code == 0, (args, payload)
        assert "policy is invalid" in err and "max_rouns" in err, (args, err)
    code, _, _ = _invoke("audit", "export", "--out", str(fednode_home / "audit.jsonl"))
    assert code == 0 and (fednode_home / "audit.jsonl").is_file()
    code, refused, _ = _invoke("approve", "job-1", "--reason", "ok", "--approver", "dr.hansen")
    assert code == 4 and refused["error"] == "PolicyFileError" and "max_rouns" in str(refused["message"])
    code, refused, _ = _invoke("policy", "compile", "--out", str(fednode_home / "local"))
    assert code == 4 and refused["error"] == "PolicyFileError"


def test_a_missing_policy_points_to_the_example(fednode_home: Path) -> None:
    code, payload, _ = _invoke("approvers", "enroll", "dr.hansen")
    assert code == 4, payload
    assert "policies/examples/site-policy.yaml" in str(payload["message"])
    assert EXAMPLE_POLICY.is_file()
    assert _files(fednode_home) == []


def test_receipt_issue_to_a_file_prints_a_summary_not_the_receipt(fednode_home: Path) -> None:
    from fednode.settings import load_settings
    from policies.registry import ApprovalRules
    from policies.state_db import open_state_db
    from tests.policies.statekit import ALLOW, manifest

    db = open_state_db(load_settings(home=fednode_home))
    db.jobs.rules = ApprovalRules(approvers=("dr.hansen",), identity="name")
    db.jobs.register_pending(manifest(), ALLOW)
    db.jobs.approve("job-1", "dr.hansen", "ok")
    db.close()
    out = fednode_home / "receipt.json"
    result = CliRunner().invoke(app, ["receipt", "issue", "job-1", "--out", str(out)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["body"]["job_id"] == "job-1"
    assert "signature" not in result.stdout and "{" not in result.stdout
    assert "job-1" in result.stdout and str(out.name) in result.stdout.replace("\n", "")
    missing = CliRunner().invoke(app, ["--json", "receipt", "issue", "job-1", "--out", str(fednode_home / "no/r")])
    assert missing.exit_code == 4 and "--out" in json.loads(missing.stdout.splitlines()[-1])["message"]


def test_policy_check_reads_the_ledger_but_never_creates_a_site_key(fednode_home: Path) -> None:
    job = Path(__file__).resolve().parents[2] / "policies" / "fixtures" / "clean_config_job"
    shutil.copy(EXAMPLE_POLICY, fednode_home / "policy.yaml")
    assert _invoke("site", "init")[0] == 0
    for name in ("site.ed25519.pem", "site.ed25519.pub"):
        (fednode_home / "keys" / name).unlink()
    code, payload, _ = _invoke("policy", "check", str(job), "--records", "500", "--now", "2026-11-27T12:00:00+00:00")
    assert code == 4 and "no site signing key" in str(payload["message"]), payload
    assert _files(fednode_home) == ["keys", "policy.yaml", "state.db"]


def test_enrolling_an_approver_creates_only_their_totp_secret(fednode_home: Path) -> None:
    shutil.copy(EXAMPLE_POLICY, fednode_home / "policy.yaml")
    code, refused, _ = _invoke("approvers", "enroll", "mallory")
    assert code == 3, refused
    assert _files(fednode_home) == ["policy.yaml"]  # a refusal creates nothing
    from policies.policy_model import load_policy

    who = load_policy(fednode_home / "policy.yaml").approval.approvers[0]
    code, enrolled, _ = _invoke("approvers", "enroll", who)
    assert code == 0 and enrolled["secret"], enrolled
    assert "state.db" not in _files(fednode_home) and "keys/site.ed25519.pem" not in _files(fednode_home)
