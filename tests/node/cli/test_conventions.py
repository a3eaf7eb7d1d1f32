"""The conventions every command shares (issue 13): ``--json`` anywhere, one ``Error:`` line, a JSON error object,
no traceback for an ordinary OS error, and help text that shows real metavariables."""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from fednode.errors import EtlInputError
from fednode.settings import load_settings
from node.cli._context import CliContext, handled_errors
from node.cli.main import _lift_json, app


def _run(*args: str, home: Path) -> Any:
    return CliRunner().invoke(app, list(args), env={"FEDNODE_HOME": str(home), "COLUMNS": "80"})


def _one_json(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    payload = json.loads(lines[0])
    assert isinstance(payload, dict)
    return payload


@pytest.mark.parametrize(
    "args",
    [
        ["jobs", "--json"],
        ["audit", "verify", "--json"],
        ["ledger", "show", "--json", "--dataset", "x"],
        ["deid", "run", "--input", "{missing}", "--json"],
        ["receipt", "verify", "{missing}", "--public-key", "{missing}", "--json"],
    ],
    ids=lambda a: " ".join(a),
)
def test_json_after_the_subcommand_is_the_root_option(tmp_path: Path, args: list[str]) -> None:
    missing = str(tmp_path / "nope.jsonl")
    result = _run(*[missing if a == "{missing}" else a for a in args], home=tmp_path / "site")
    payload = _one_json(result.stdout)
    assert payload["ok"] is False and payload["exit_code"] == result.exit_code == 4, result.stdout
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr


def test_json_after_a_double_dash_is_left_alone() -> None:
    assert _lift_json(["jobs", "--", "--json"]) == (["jobs", "--", "--json"], False)
    assert _lift_json(["audit", "--json", "verify", "--json"]) == (["--json", "audit", "verify"], True)
    assert _lift_json(["jobs"]) == (["jobs"], False)


def test_a_usage_error_under_json_is_one_json_object_and_exit_2(tmp_path: Path) -> None:
    result = _run("jobs", "--no-such-option", "--json", home=tmp_path / "site")
    assert result.exit_code == 2
    payload = _one_json(result.stdout)
    assert payload == {
        "ok": False,
        "error": "UsageError",
        "message": "fednode jobs: No such option: --no-such-option",
        "exit_code": 2,
    }
    assert "--no-such-option" in result.stderr and "Traceback" not in result.stderr


def test_a_usage_error_without_json_prints_nothing_on_stdout(tmp_path: Path) -> None:
    result = _run("approve", home=tmp_path / "site")
    assert result.exit_code == 2 and result.stdout == ""
    assert "Missing argument 'JOB_ID'" in result.stderr


def test_an_invalid_setting_is_one_error_line_naming_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDNODE_DEID__WORKERS", "many")
    result = _run("jobs", "--json", home=tmp_path / "site")
    assert result.exit_code == 2
    payload = _one_json(result.stdout)
    assert payload["error"] == "ConfigError" and "deid.workers" in payload["message"]
    assert "many" not in payload["message"]  # a rejected value may be a secret: never echoed
    assert result.stderr.startswith("Error: configuration: deid.workers") and result.stderr.count("\n") == 1


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Any]:
    def make(json_output: bool) -> CliContext:
        from rich.console import Console

        return CliContext(load_settings(home=tmp_path / "site"), json_output, Console(stderr=True))

    yield make


def _fail_with(exc: BaseException, cli: CliContext) -> int:
    with pytest.raises(typer.Exit) as raised, handled_errors(cli):
        raise exc
    return raised.value.exit_code


def test_a_fednode_error_is_one_line_on_stderr(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = _fail_with(EtlInputError("bad date", file="patients.csv", line=3), cli(False))
    out, err = capsys.readouterr()
    assert code == 4 and out == ""
    assert err == "Error: patients.csv:3: bad date\n"


def test_a_fednode_error_under_json_is_the_one_stdout_object(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = _fail_with(EtlInputError("bad date", file="patients.csv", line=3), cli(True))
    out, err = capsys.readouterr()
    assert code == 4
    assert json.loads(out) == {
        "ok": False,
        "error": "EtlInputError",
        "message": "patients.csv:3: bad date",
        "exit_code": 4,
    }
    assert err == "Error: patients.csv:3: bad date\n"


def test_an_os_error_with_a_file_is_bad_input_not_a_traceback(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = _fail_with(FileNotFoundError(errno.ENOENT, "No such file or directory", "/nope/x.pem"), cli(True))
    out, err = capsys.readouterr()
    assert code == 4
    assert json.loads(out)["message"] == "/nope/x.pem: No such file or directory"
    assert err == "Error: /nope/x.pem: No such file or directory\n"


def test_undecodable_bytes_are_bad_input(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        b"ok\xff".decode("utf-8")
    except UnicodeDecodeError as exc:
        code = _fail_with(exc, cli(False))
    _, err = capsys.readouterr()
    assert code == 4 and "not a UTF-8 text file" in err and "Traceback" not in err


def test_an_os_error_without_a_file_is_not_swallowed(cli: Any) -> None:
    with pytest.raises(ConnectionRefusedError), handled_errors(cli(False)):
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")


def _all_commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    return paths


PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}|<(bool|str|int|float|path|file|directory|text)[^>]*>")
RST = re.compile(r"``|:(class|func|meth|mod|attr|ref):`")


def test_the_tree_is_walked() -> None:
    names = {" ".join(p) for p in _all_commands()}
    assert {"", "jobs", "audit", "audit verify", "deid run", "study status"} <= names


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p) or "fednode")
def test_help_shows_real_metavariables(path: list[str], tmp_path: Path) -> None:
    result = _run(*path, "--help", home=tmp_path / "site")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert not PLACEHOLDER.search(text), PLACEHOLDER.search(text)
    assert not RST.search(text), RST.search(text)
    assert max(len(line) for line in text.splitlines()) <= 80


def test_flags_show_no_metavariable_and_options_a_meaningful_one(tmp_path: Path) -> None:
    root = _run("--help", home=tmp_path / "site").stdout
    assert re.search(r"--json\s+Print one", root) and re.search(r"--home\s+PATH\s", root)
    approve = _run("approve", "--help", home=tmp_path / "site").stdout
    assert "fednode approve [OPTIONS] JOB_ID" in approve and re.search(r"--reason\s+REASON", approve)
    assert re.search(r"--db\s+URL", _run("etl", "--help", home=tmp_path / "site").stdout)
    assert re.search(r"--job\s+JOB_ID", _run("jobs", "--help", home=tmp_path / "site").stdout)
    gold = _run("deid", "gold", "--help", home=tmp_path / "site").stdout
    assert re.search(r"--dev\s+N\s", gold) and re.search(r"--seed\s+N\s", gold)
    assert re.search(r"--port\s+PORT\s", _run("provision", "--help", home=tmp_path / "site").stdout)


def test_no_subcommand_defines_its_own_json_option() -> None:
    """``--json`` is lifted to the root wherever it is typed, so a subcommand's own ``--json`` would never see it."""
    root = typer.main.get_command(app)
    owners = []

    def walk(cmd: Any, path: list[str]) -> None:
        if path and any("--json" in p.opts for p in cmd.params):
            owners.append(" ".join(path))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    assert owners == []


def test_library_info_lines_stay_off_the_console() -> None:
    """Presidio's, NVFlare's and transformers' INFO chatter is not printed; fednode's own INFO and any warning is."""
    import subprocess
    import sys

    probe = (
        "import logging\n"
        "from node.cli.main import _configure_logging\n"
        "_configure_logging('INFO')\n"
        "logging.getLogger('presidio-analyzer').info('library chatter')\n"
        "logging.getLogger('nvflare.fuel').info('library chatter')\n"
        "logging.getLogger('nvflare.fuel').warning('library warning')\n"
        "logging.getLogger('fednode.policies.keys').info('fednode info')\n"
    )
    done = subprocess.run(  # our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "library chatter" not in done.stderr
    assert "library warning" in done.stderr and "fednode info" in done.stderr
