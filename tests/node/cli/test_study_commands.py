"""`fednode study submit|status|download` on ordinary trouble: a coordinator that is down fails in seconds with one
line (no minute of NVFlare retries, no NVFlare log lines), a missing federation or admin kit is bad input (exit 4)
that says how to get one, and NVFlare's own log lines go to ``<federation>/logs/study.log``, not the console."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from node.coordinator.provision import SiteKit, provision_federation

REPO = Path(__file__).resolve().parents[3]


def _closed_port() -> int:
    """A loopback port nobody listens on: bound, read, closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _provision(root: Path, port: int) -> Path:
    provision_federation(root, [SiteKit("site-1", "hospital_a")], fl_port=port, admin_port=port)
    return root


@pytest.fixture(scope="module")
def down_federation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    port = _closed_port()
    return _provision(tmp_path_factory.mktemp("down") / "federation", port), port


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize(
    "command",
    [["study", "status", "job-1"], ["study", "download", "job-1"], ["study", "submit", "--model", "tiny"]],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_coordinator_that_is_down_is_one_line_naming_it_and_nothing_is_created(
    down_federation: tuple[Path, int], tmp_path: Path, command: list[str]
) -> None:
    federation, port = down_federation
    before = _files(federation)
    out = tmp_path / "results"
    extra = ["--out", str(out)] if command[1] == "download" else []
    if command[1] == "submit":  # the built-in study needs the submitter's limitations (the model card's)
        (tmp_path / "limits.md").write_text("English notes only.\n", encoding="utf-8")
        extra = ["--limitations", str(tmp_path / "limits.md")]
    code, stdout, stderr = _invoke(*command, "--federation", str(federation), *extra)
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"Error: coordinator localhost:{port} is not reachable (connection refused): ")
    assert "fednode coordinator start" in lines[0]
    assert "nvflare" not in (stdout + stderr).lower()
    assert "Connecting to FLARE" not in stdout + stderr
    assert _files(federation) == before  # no job folder built, no log file
    assert not out.exists()


def test_with_json_the_down_coordinator_is_one_error_object(down_federation: tuple[Path, int]) -> None:
    federation, port = down_federation
    code, stdout, _ = _invoke("--json", "study", "status", "job-1", "--federation", str(federation))
    assert code == 1
    payload = json.loads(stdout.strip())
    assert payload["exit_code"] == 1
    assert payload["error"] == "ServiceError"
    assert f"localhost:{port} is not reachable" in payload["message"]


@pytest.mark.parametrize(
    "command",
    [["study", "status", "job-1"], ["study", "download", "job-1"], ["study", "submit"]],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_missing_federation_is_bad_input_that_says_how_to_get_one(
    fednode_home: Path, tmp_path: Path, command: list[str]
) -> None:
    if command[1] == "submit":  # the built-in study needs the submitter's limitations (the model card's)
        (tmp_path / "limits.md").write_text("English notes only.\n", encoding="utf-8")
        command = [*command, "--limitations", str(tmp_path / "limits.md")]
    code, _, stderr = _invoke(*command, "--federation", str(tmp_path / "nope"))
    assert code == 4
    assert f"{tmp_path / 'nope' / 'federation.json'}: no provisioned federation here" in stderr
    assert "fednode provision" in stderr
    code, _, stderr = _invoke(*command)  # the default: $FEDNODE_HOME/federation
    assert code == 4
    assert str(fednode_home / "federation" / "federation.json") in stderr
    assert not (fednode_home / "federation").exists()


def test_a_broken_federation_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "federation.json").write_bytes(b"\x00\xff not json")
    code, _, stderr = _invoke("study", "status", "job-1", "--federation", str(tmp_path))
    assert code == 4
    assert "federation.json: not a federation file" in stderr


def test_a_missing_admin_kit_is_bad_input_naming_it(tmp_path: Path) -> None:
    federation = _provision(tmp_path / "federation", _closed_port())
    fed = json.loads((federation / "federation.json").read_text())
    admin_config = Path(fed["admin_dir"]) / "startup" / "fed_admin.json"
    admin_config.unlink()
    code, _, stderr = _invoke("study", "status", "job-1", "--federation", str(federation))
    assert code == 4
    assert f"{admin_config}: no admin kit here" in stderr
    assert "fednode provision" in stderr


# -- NVFlare's log lines go to a file ----------------------------------------------------------------------------

_FAKE_ADMIN_API = """
import contextlib, logging, sys
import node.coordinator.launcher as launcher

@contextlib.contextmanager
def admin_session(federation, timeout_s):
    # what NVFlare's admin API does when it connects: a print, then INFO lines from its cellnet
    print("Connecting to FLARE ...")
    cell = logging.getLogger("nvflare.fuel.f3.cellnet.core_cell.CoreCell")
    cell.info("created backbone external connector to grpc://localhost")

    class Session:
        def get_job_meta(self, job_id):
            cell.info("request job meta %s", job_id)
            logging.getLogger("fednode.node.coordinator.study").warning("study.fake_warning job_id=%s", job_id)
            return {"status": "RUNNING", "name": "ner-study", "schedule_count": 2, "schedule_history": []}

    yield Session()

launcher.admin_session = admin_session
from node.cli.main import main
sys.argv = ["fednode", *sys.argv[1:]]
main()
"""


@pytest.fixture
def listening_federation(tmp_path: Path) -> Iterator[Path]:
    """A federation whose coordinator port accepts TCP (a bare listener stands in for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield _provision(tmp_path / "federation", listener.getsockname()[1])


def test_nvflare_log_lines_and_prints_go_to_the_study_log_not_the_console(
    listening_federation: Path, fednode_home: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    proc = subprocess.run(  # our own CLI under a fake admin API
        [sys.executable, "-c", _FAKE_ADMIN_API, "study", "status", "job-7", "--federation", str(listening_federation)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console
    assert "job-7: RUNNING (schedule tries 2)" in proc.stdout
    assert "nvflare." not in console
    assert "Connecting to FLARE" not in console
    assert "study.fake_warning" in proc.stderr  # fednode's own warnings still reach the console
    log_file = listening_federation / "logs" / "study.log"
    assert f"library and NVFlare log lines: {log_file}" in proc.stderr
    logged = log_file.read_text(encoding="utf-8")
    assert "INFO nvflare.fuel.f3.cellnet.core_cell.CoreCell created backbone external connector" in logged
    assert "request job meta job-7" in logged
    assert "Connecting to FLARE ..." in logged
