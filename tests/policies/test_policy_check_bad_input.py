"""`fednode policy check` on folders that are not reviewable jobs: a clear refusal naming the problem, exit 4,
never a traceback. Each folder is made by hand."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
AS_OF = ["--now", "2026-11-27T12:00:00+00:00", "--records", "500"]


def _clean(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "clean_config_job", tmp_path / "job"))


def _a_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.zip"
    path.write_bytes(b"PK\x03\x04")
    return path


def _no_meta(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    (job / "meta.json").unlink()
    return job


def _meta_not_an_object(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    (job / "meta.json").write_text("[1, 2, 3]")
    return job


def _deploy_map_to_nowhere(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    meta = json.loads((job / "meta.json").read_text())
    meta["deploy_map"] = {"../outside": ["@ALL"]}
    (job / "meta.json").write_text(json.dumps(meta))
    return job


def _symlink(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / "secrets.py").symlink_to("/etc/passwd")
    return job


def _symlinked_app(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    shutil.move(job / "app", tmp_path / "elsewhere")
    (job / "app").symlink_to(tmp_path / "elsewhere")
    return job


def _fifo(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    os.mkfifo(job / "app" / "config" / "pipe")
    return job


def _native(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / "fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    return job


def _too_big(tmp_path: Path) -> Path:
    job = _clean(tmp_path)
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / "weights.txt").write_bytes(b"0" * 5000)
    return job


def _signature_named(tmp_path: Path) -> Path:
    """A file named like NVFlare's signature would be left out of the digest: refused, not skipped."""
    job = _clean(tmp_path)
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / ".__nvfl_sig.json").write_text('{"hidden": "import os; os.system(1)"}')
    return job


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_a_file, "is a file, not a job folder"),
        (_no_meta, "meta.json not found"),
        (_meta_not_an_object, "must hold a JSON object"),
        (_deploy_map_to_nowhere, "not a folder name"),
        (_symlink, "symbolic link"),
        (_symlinked_app, "symbolic link"),
        (_fifo, "special file"),
        (_native, "compiled or native file"),
        (_too_big, "larger than 4096 bytes"),
        (_signature_named, "named like an NVFlare signature file"),
    ],
)
def test_a_folder_that_cannot_be_reviewed_is_refused_as_bad_input(
    fednode_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], Path], problem: str
) -> None:
    shutil.copy(EXAMPLES / "site-policy.yaml", fednode_home / "policy.yaml")
    monkeypatch.setattr("policies.manifest._walk.MAX_APP_BYTES", 4096)
    job = make(tmp_path)
    result = CliRunner().invoke(app, ["--json", "policy", "check", str(job), *AS_OF])
    assert result.exit_code == 4, result.stdout
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    payload = json.loads(result.stdout)
    assert payload["error"] == "JobFolderError" and problem in payload["message"]
    plain = CliRunner().invoke(app, ["policy", "check", str(job), *AS_OF])
    assert plain.exit_code == 4 and "Traceback" not in plain.output
