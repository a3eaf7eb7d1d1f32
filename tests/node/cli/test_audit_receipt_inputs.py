"""`fednode audit verify|export` and `fednode receipt verify` on ordinary mistakes: a missing, binary, empty or
broken file is bad input (exit 4) naming it, never a traceback and never an integrity failure (5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app

BINARY = bytes(range(256)) * 4


def _invoke(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, ["--json", *args])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def site(fednode_home: Path) -> Path:
    """A site with an audit record and its export."""
    from fednode.settings import load_settings
    from policies.state_db import open_state_db

    open_state_db(load_settings(home=fednode_home)).close()
    assert _invoke("audit", "export", "--out", str(fednode_home / "audit.jsonl"))[0] == 0
    assert _invoke("audit", "export", "--out", str(fednode_home / "audit.jsonl"))[0] == 0  # two records now
    return fednode_home


def _missing(d: Path) -> Path:
    return d / "nope.jsonl"


def _binary(d: Path) -> Path:
    (d / "bin").write_bytes(BINARY)
    return d / "bin"


def _empty(d: Path) -> Path:
    (d / "empty.jsonl").write_text("")
    return d / "empty.jsonl"


def _broken_line(d: Path) -> Path:
    lines = (d / "audit.jsonl").read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]
    (d / "broken.jsonl").write_text("\n".join(lines) + "\n")
    return d / "broken.jsonl"


def _a_folder(d: Path) -> Path:
    (d / "folder").mkdir()
    return d / "folder"


BAD_FILES = [_missing, _binary, _empty, _broken_line, _a_folder]


@pytest.mark.parametrize("make", BAD_FILES, ids=lambda f: f.__name__.strip("_"))
def test_audit_verify_file_bad_input(site: Path, make: Callable[[Path], Path]) -> None:
    path = make(site)
    code, payload = _invoke("audit", "verify", "--file", str(path))
    assert code == 4, payload
    assert str(path) in str(payload["message"])


@pytest.mark.parametrize("make", [_missing, _binary, _empty, _a_folder], ids=lambda f: f.__name__.strip("_"))
def test_audit_verify_public_key_bad_input(site: Path, make: Callable[[Path], Path]) -> None:
    path = make(site)
    code, payload = _invoke("audit", "verify", "--file", str(site / "audit.jsonl"), "--public-key", str(path))
    assert code == 4, payload
    assert f"--public-key {path}" in str(payload["message"])


def test_audit_verify_an_export_with_the_site_key(site: Path) -> None:
    code, payload = _invoke(
        "audit", "verify", "--file", str(site / "audit.jsonl"), "--public-key", str(site / "keys/site.ed25519.pub")
    )
    assert code == 0 and payload["records"] == 1, payload


@pytest.mark.parametrize("target", ["missing/dir/x.jsonl", "keys"])
def test_audit_export_to_a_missing_folder_or_onto_a_folder(site: Path, target: str) -> None:
    before = sorted(site.rglob("*"))
    code, payload = _invoke("audit", "export", "--out", str(site / target))
    assert code == 4 and "--out" in str(payload["message"]), payload
    assert sorted(site.rglob("*")) == before


def test_audit_export_with_json_and_no_out_is_a_usage_error_naming_out(site: Path) -> None:
    code, payload = _invoke("audit", "export")
    assert code == 2 and "--out" in str(payload["message"]), payload


@pytest.mark.parametrize("make", [_missing, _binary, _empty, _a_folder], ids=lambda f: f.__name__.strip("_"))
def test_receipt_verify_bad_input(site: Path, make: Callable[[Path], Path]) -> None:
    path = make(site)
    code, payload = _invoke("receipt", "verify", str(path), "--public-key", str(site / "keys/site.ed25519.pub"))
    assert code == 4, payload
    assert str(path) in str(payload["message"])


def test_receipt_verify_with_a_binary_key_is_bad_input_not_integrity(site: Path) -> None:
    receipt = site / "r.json"
    receipt.write_text(json.dumps({"body": {"job_id": "j"}, "key_id": "k", "signature": "s"}))
    code, payload = _invoke("receipt", "verify", str(receipt), "--public-key", str(_binary(site)))
    assert code == 4 and "--public-key" in str(payload["message"]), payload


def test_policy_check_on_a_zip_says_it_is_a_file_before_reading_the_policy(fednode_home: Path) -> None:
    archive = fednode_home / "job.zip"
    archive.write_bytes(b"PK\x03\x04")
    code, payload = _invoke("policy", "check", str(archive))
    assert code == 4 and "is a file, not a job folder" in str(payload["message"]), payload
    assert sorted(p.name for p in fednode_home.iterdir()) == ["job.zip"]


@pytest.mark.parametrize(
    ("extra", "option"), [(["--job", "job-1"], "--job"), (["--out", "a.jsonl", "--ro-crate", "crate"], "--out")]
)
def test_audit_export_options_that_would_be_ignored_are_a_usage_error(
    site: Path, extra: list[str], option: str
) -> None:
    before = sorted(site.rglob("*"))
    code, payload = _invoke("audit", "export", *[str(site / a) if a in ("a.jsonl", "crate") else a for a in extra])
    assert code == 2 and option in str(payload["message"]), payload
    assert sorted(site.rglob("*")) == before
