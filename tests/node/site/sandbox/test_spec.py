"""The spec, the probe, the command line and the denial file: no confinement needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fednode.errors import SandboxError, SandboxUnavailableError
from node.site.sandbox import (
    AUDIT_EVENT,
    SandboxSpec,
    probe,
    read_denials,
    require_support,
    runtime_paths,
    sandbox_command,
)
from node.site.sandbox._landlock import FS_IOCTL_DEV, FS_REFER, FS_TRUNCATE, handled_fs


def test_spec_round_trips_through_json(tmp_path: Path) -> None:
    spec = SandboxSpec.for_job(
        tmp_path / "job",
        read_only=[tmp_path / "data"],
        connect_ports=(8003,),
        memory_bytes=1 << 30,
        cpu_seconds=60,
        env={"PATH": "/usr/bin", "HF_HUB_OFFLINE": "1"},
        report_path=tmp_path / "denials.jsonl",
    )
    again = SandboxSpec.load(spec.write(tmp_path / "spec.json"))
    assert again == spec
    assert SandboxSpec.from_json(again.to_json()) == spec
    assert (tmp_path / "spec.json").stat().st_mode & 0o777 == 0o600


def test_for_job_adds_the_runtime_but_no_shell(tmp_path: Path) -> None:
    spec = SandboxSpec.for_job(tmp_path)
    assert Path(sys.prefix) in spec.read_only
    assert Path(sys.executable).resolve() in spec.executables
    assert not any(p.name in ("sh", "bash", "dash") for p in spec.executables)
    assert spec.connect_ports == () and spec.allow_bind is False
    assert set(spec.env) == {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    assert runtime_paths().executables == spec.executables


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workdir", "relative/job", "absolute"),
        ("read_only", ["data"], "absolute"),
        ("connect_ports", [70000], "port"),
        ("memory_bytes", 0, "positive"),
        ("env", {"A": 1}, "strings"),
        ("surprise", True, "unknown field"),
    ],
)
def test_malformed_specs_are_refused(tmp_path: Path, field: str, value: object, message: str) -> None:
    raw = json.loads(SandboxSpec(workdir=tmp_path).to_json())
    raw[field] = value
    with pytest.raises(SandboxError, match=message):
        SandboxSpec.from_json(json.dumps(raw))


def test_not_json_is_a_sandbox_error() -> None:
    with pytest.raises(SandboxError, match="not JSON"):
        SandboxSpec.from_json("{workdir:")


def test_probe_agrees_with_require_support() -> None:
    support = probe()
    if support.available:
        assert require_support() == support
        assert support.abi >= 4 and support.network
    else:
        assert support.reason
        with pytest.raises(SandboxUnavailableError):
            require_support()
    assert not probe(min_abi=99).available
    assert "ABI" in probe(min_abi=99).reason or "cannot confine" in probe(min_abi=99).reason


def test_handled_rights_grow_with_the_abi() -> None:
    assert not handled_fs(1) & (FS_REFER | FS_TRUNCATE | FS_IOCTL_DEV)
    assert handled_fs(3) & FS_TRUNCATE and not handled_fs(3) & FS_IOCTL_DEV
    assert handled_fs(5) & FS_IOCTL_DEV


def test_sandbox_command_shape() -> None:
    cmd = sandbox_command("/run/spec.json", ["/usr/bin/python3", "-u", "custom/train.py"], python="/py")
    assert cmd == [
        "/py",
        "-I",
        "-m",
        "node.site.sandbox",
        "--spec",
        "/run/spec.json",
        "--",
        "/usr/bin/python3",
        "-u",
        "custom/train.py",
    ]


def test_read_denials_skips_what_is_not_a_denial(tmp_path: Path) -> None:
    report = tmp_path / "d.jsonl"
    assert read_denials(report) == []
    report.write_text(
        '{"action":"open","category":"file-read","target":"state.db","at":"2026-12-05T06:00:00Z"}\n'
        "not json\n"
        '{"action":"open","category":"made-up","target":"x","at":"t"}\n'
        '["list"]\n'
        '{"action":"socket.connect","category":"network","target":"tcp:80","at":"2026-12-05T06:00:01Z"}\n'
        '{"action":"open","category":"file-re'
    )
    got = read_denials(report)
    assert [(d.category, d.target) for d in got] == [("file-read", "state.db"), ("network", "tcp:80")]
    assert AUDIT_EVENT == "sandbox:denied"


def test_wrapper_usage_and_failure_exit_codes(tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[4])
    env = {"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}
    usage = subprocess.run(
        [sys.executable, "-m", "node.site.sandbox", "--spec", "x"], env=env, capture_output=True, check=False
    )
    assert usage.returncode == 2
    spec = SandboxSpec.for_job(tmp_path / "missing-job").write(tmp_path / "spec.json")
    failed = subprocess.run(
        sandbox_command(spec, [sys.executable, "-c", "print('ran')"]), env=env, capture_output=True, check=False
    )
    assert failed.returncode == 70
    assert b"ran" not in failed.stdout
    assert b"confinement failed" in failed.stderr and b"Traceback" not in failed.stderr
