"""The confining wrapper of a BYOC training script: it opens exactly the job process's loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fednode.errors import SandboxError
from node.site import trainer
from node.site.sandbox import SandboxSpec, probe

SUPPORT = probe()


def _bootstrap(folder: Path, url: object = "tcp://localhost:41234", name: str = "client_api_bootstrap_1.json") -> Path:
    path = folder / name
    path.write_text(json.dumps({"connect_url": url, "launch_token": "t"}))
    return path


def test_the_env_name_is_nvflares() -> None:
    from nvflare.client.cell.bootstrap import BOOTSTRAP_FILE_ENV_VAR

    assert trainer.BOOTSTRAP_ENV == BOOTSTRAP_FILE_ENV_VAR


def test_the_port_comes_from_a_bootstrap_file_in_the_workdir(tmp_path: Path) -> None:
    assert trainer.bootstrap_port(_bootstrap(tmp_path), tmp_path) == 41234


@pytest.mark.parametrize(
    "url",
    ["tcp://10.0.0.5:41234", "tcp://coordinator.example:8002", "grpc://localhost:41234", "tcp://localhost", 41234],
)
def test_anything_but_a_loopback_tcp_port_is_refused(tmp_path: Path, url: object) -> None:
    with pytest.raises(SandboxError):
        trainer.bootstrap_port(_bootstrap(tmp_path, url), tmp_path)


def test_a_bootstrap_file_outside_the_workdir_or_a_symlink_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = _bootstrap(tmp_path)
    with pytest.raises(SandboxError, match="not in the job's working directory"):
        trainer.bootstrap_port(outside, work)
    link = work / "client_api_bootstrap_2.json"
    link.symlink_to(outside)
    with pytest.raises(SandboxError):
        trainer.bootstrap_port(link, work)


def test_the_launch_spec_adds_the_port_and_the_bootstrap_path_only(tmp_path: Path) -> None:
    base = SandboxSpec.for_job(tmp_path, env={"PATH": "/usr/bin"})
    spec_path = base.write(tmp_path / "spec.json")
    path = _bootstrap(tmp_path)
    spec = trainer.launch_spec(spec_path, {trainer.BOOTSTRAP_ENV: str(path), "FEDNODE_DEID__SECRET": "x"})
    assert spec.connect_ports == (41234,)
    assert spec.env == {"PATH": "/usr/bin", trainer.BOOTSTRAP_ENV: str(path.resolve())}


def test_without_nvflares_bootstrap_the_wrapper_exits_without_running_anything(tmp_path: Path) -> None:
    spec_path = SandboxSpec.for_job(tmp_path).write(tmp_path / "spec.json")
    marker = tmp_path / "ran"
    code = trainer.main(["--spec", str(spec_path), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    assert code == trainer.EXIT_UNUSABLE
    assert not marker.exists()
    assert trainer.main(["--spec", str(spec_path)]) == trainer.EXIT_USAGE


@pytest.fixture
def two_listeners() -> Iterator[tuple[socket.socket, socket.socket]]:
    socks = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        socks.append(s)
    try:
        yield socks[0], socks[1]
    finally:
        for s in socks:
            s.close()


PROBE = """
import json, os, socket, sys
out = {}
for name, port in (("job_process", int(sys.argv[1])), ("other", int(sys.argv[2]))):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port)); out[name] = "ok"
    except OSError as e:
        out[name] = type(e).__name__
    finally:
        s.close()
out["env"] = sorted(k for k in os.environ if k.startswith(("FEDNODE", "NVFLARE")))
out["cwd"] = os.getcwd()
print(json.dumps(out))
"""


@pytest.mark.skipif(not SUPPORT.available, reason=f"Landlock unavailable: {SUPPORT.reason}")
def test_confined_the_script_reaches_the_job_processs_port_and_nothing_else(
    tmp_path: Path, two_listeners: tuple[socket.socket, socket.socket]
) -> None:
    allowed, other = (s.getsockname()[1] for s in two_listeners)
    work = tmp_path / "app_site-1"
    work.mkdir()
    boot = _bootstrap(work, f"tcp://localhost:{allowed}")
    sandbox = tmp_path / "fednode-sandbox"
    sandbox.mkdir()
    spec_path = SandboxSpec.for_job(work, report_path=sandbox / "denials.jsonl", wall_seconds=60).write(
        sandbox / "spec.json"
    )
    env = {**os.environ, trainer.BOOTSTRAP_ENV: str(boot), "FEDNODE_DEID__SECRET": "x"}
    cmd = [sys.executable, "-I", "-m", "node.site.trainer", "--spec", str(spec_path), "--"]  # as the launcher
    cmd += [sys.executable, "-c", PROBE, str(allowed), str(other)]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["job_process"] == "ok"
    assert got["other"] == "PermissionError"
    assert trainer.BOOTSTRAP_ENV in got["env"]
    assert not any("SECRET" in k for k in got["env"])  # nothing of the job process's environment but the path
    assert got["cwd"] == str(work)
