"""`fednode policy check` and `fednode policy compile` as a user runs them (exit codes, output, files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
AS_OF = ["--now", "2026-11-27T12:00:00+00:00", "--records", "500"]


@pytest.fixture
def home(fednode_home: Path) -> Path:
    shutil.copy(EXAMPLES / "site-policy.yaml", fednode_home / "policy.yaml")
    return fednode_home


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_clean_job_is_allowed(home: Path) -> None:
    code, out = run("policy", "check", str(FIXTURES / "clean_config_job"), *AS_OF)
    assert code == 0, out
    assert "ALLOW" in out and "ethics_approval" in out


def test_malicious_job_is_denied_with_reasons_and_json(home: Path, tmp_path: Path) -> None:
    job = Path(shutil.copytree(FIXTURES / "malicious_byoc_job", tmp_path / "job"))
    code, out = run("--json", "policy", "check", str(job), *AS_OF)
    assert code == 3
    payload = json.loads(out)  # exactly one JSON object
    [verdict] = payload["apps"]
    denied = {r["rule"] for r in verdict["results"] if r["outcome"] == "deny"}
    assert denied == {"job_kind", "code_scan", "byoc_sandbox", "site_dp"}  # the site's own rules, as at the gate
    found = {(f["file"], f["capability"]) for f in verdict["findings"]}
    assert ("custom/trainer.py", "subprocess") in found
    assert ("custom/trainer.py", "dynamic_code") in found  # getattr(__builtins__, "ev" + "al")
    assert payload["exit_code"] == 3 and not payload["allowed"]
    # a hidden compiled file is not judged at all: the folder is refused as bad input, naming the file
    (job / "app" / "custom" / "__pycache__").mkdir()
    (job / "app" / "custom" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\x00\x01")
    code, out = run("--json", "policy", "check", str(job), *AS_OF)
    assert code == 4
    error = json.loads(out)
    assert error["error"] == "JobFolderError" and "custom/__pycache__" in error["message"]


def test_expired_ethics_and_explicit_policy_file(home: Path, tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    shutil.copy(EXAMPLES / "site-policy-strict.yaml", strict)
    code, out = run(
        "--json", "policy", "check", str(FIXTURES / "clean_config_job"), "--policy", str(strict),
        "--site", "site-tartu", "--now", "2027-03-01T12:00:00+00:00", "--records", "5000",
    )  # fmt: skip
    assert code == 3
    reasons = {r["rule"]: r["reason"] for r in json.loads(out)["apps"][0]["results"] if r["outcome"] == "deny"}
    assert "expired on 2026-12-31" in reasons["ethics_approval"]
    assert "algorithm" in reasons and "min_sites" in reasons


def test_budget_option(home: Path) -> None:
    code, out = run("--json", "policy", "check", str(FIXTURES / "clean_config_job"), *AS_OF, "--budget", "omop=1.0")
    assert code == 3
    assert "has 1 left" in json.dumps(json.loads(out))


def test_bad_policy_and_bad_job_are_bad_input(home: Path, tmp_path: Path) -> None:
    (home / "policy.yaml").write_text("version: 1\nsite: {name: x}\nsurprise: true\n")
    code, out = run("--json", "policy", "check", str(FIXTURES / "clean_config_job"))
    assert code == 4 and json.loads(out)["error"] == "PolicyFileError"
    shutil.copy(EXAMPLES / "site-policy.yaml", home / "policy.yaml")
    code, _ = run("policy", "check", str(tmp_path))  # no meta.json
    assert code == 4


def with_filters(*kinds: str) -> str:
    """The example policy with only these result filters."""
    data = (EXAMPLES / "site-policy.yaml").read_text()
    head, rest = data.split("  result_filters:")
    listed = "".join(f"    - kind: {k}\n" for k in kinds)
    return f"{head}  result_filters:\n{listed}\ndata_access:{rest.split(chr(10) + 'data_access:')[1]}"


def test_compile_writes_and_validates(home: Path, site_home: Path, tmp_path: Path) -> None:
    (home / "policy.yaml").write_text(with_filters("weights_only"))
    local = tmp_path / "local"
    local.mkdir()
    (local / "resources.json.default").write_text(json.dumps({"format_version": 2, "components": []}))
    code, out = run("--json", "policy", "compile", "--out", str(local))
    assert code == 0, out
    payload = json.loads(out)
    # the one result filter, the egress guard, and the task-data filter that materialises a pass-through model
    assert payload["classes_built"]["privacy.json"] == 3
    privacy = json.loads((local / "privacy.json").read_text())
    paths = {f["path"] for scope in privacy["scopes"] for f in scope.get("task_data_filters", [])}
    assert paths == {"node.site.egress.taskdata.MaterializeTaskData"}
    assert {p.name for p in local.iterdir()} >= {"privacy.json", "authorization.json", "resources.json"}
    resources = json.loads((local / "resources.json").read_text())
    assert [c["id"] for c in resources["components"]] == ["fednode_approval_gate", "process_launcher"]


def test_compile_refuses_a_class_that_does_not_exist(home: Path, tmp_path: Path, monkeypatch) -> None:
    import policies.compile._filters as filters
    from policies.policy_model import ResultFilter

    broken = filters.FilterClass("nvflare.app_common.filters.NoSuchFilter", frozenset())
    monkeypatch.setitem(filters.FILTERS, ResultFilter.DP_BUDGET, broken)
    (home / "policy.yaml").write_text(with_filters("weights_only", "dp_budget"))
    code, out = run("--json", "policy", "compile", "--out", str(tmp_path / "local"))
    assert code == 4
    assert "NoSuchFilter cannot be imported" in json.loads(out)["message"]
    assert not (tmp_path / "local" / "privacy.json").exists()  # nothing is written when validation fails
