"""`fednode approve` / `reject` errors: one line, the documented exit code (3 refused, 4 not found), nothing created."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from policies.contracts import JobKind
from tests.tui.sitekit import EVIL, EXAMPLE_POLICY, Site, manifest, open_site


@pytest.fixture
def site(fednode_home: Path) -> Iterator[Site]:
    """Four eyes and TOTP; job-1 pending, job-evil denied by the verdict."""
    s = open_site(fednode_home)
    s.register(manifest("job-1"))
    s.register(manifest("job-evil", study="ext-probe", kind=JobKind.BYOC, files={"custom/evil.py": EVIL}))
    yield s
    s.desk.close()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.stdout, result.stderr


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and "INFO" not in line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_decision_on_a_home_without_a_site_creates_nothing(fednode_home: Path, verb: str) -> None:
    shutil.copy(EXAMPLE_POLICY, fednode_home / "policy.yaml")
    code, _, err = _run(verb, "job-1", "--reason", "ok", "--approver", "dr.hansen")
    assert code == 4
    assert "holds no site" in _one_error_line(err)
    assert sorted(p.name for p in fednode_home.iterdir()) == ["policy.yaml"]  # no state.db, no keys


@pytest.mark.parametrize(
    ("args", "code", "names"),
    [
        (["approve", "nope", "--reason", "x", "--approver", "dr.hansen"], 4, "nope"),
        (["reject", "nope", "--reason", "x", "--approver", "dr.hansen"], 4, "nope"),
        (["approve", "job-1", "--reason", "x", "--approver", "dr.hansen"], 3, "TOTP"),
        (["approve", "job-1", "--reason", "x", "--approver", "dr.hansen", "--totp", "000000"], 3, "TOTP"),
        (["approve", "job-1", "--reason", "x", "--approver", "mallory", "--totp", "000000"], 3, "mallory"),
        (["approve", "job-evil", "--reason", "x", "--approver", "dr.hansen", "--totp", "000000"], 3, "job-evil"),
        (["reject", "job-1", "--reason", "x", "--approver", "mallory"], 3, "mallory"),
        (["reject", "job-1", "--reason", " ", "--approver", "dr.hansen"], 3, "reason"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_a_refused_or_unknown_decision_is_one_line_with_its_exit_code(
    site: Site, args: list[str], code: int, names: str
) -> None:
    exit_code, out, err = _run(*args)
    assert exit_code == code, out + err
    assert names in _one_error_line(err)
    assert out == ""
    exit_code, out, _ = _run(*args, "--json")
    payload = json.loads(out)
    assert exit_code == code and payload["ok"] is False and payload["exit_code"] == code


def test_rejecting_twice_says_why_in_one_line(site: Site) -> None:
    assert _run("reject", "job-1", "--reason", "no DPIA", "--approver", "dr.hansen")[0] == 0
    code, _, err = _run("reject", "job-1", "--reason", "again", "--approver", "dr.hansen")
    assert code == 3 and "job-1" in _one_error_line(err) and "rejected" in err
