"""Build the images and drive compose stacks for the container end-to-end test.

Everything this starts is named after one run id and removed by ``Stack.down`` / ``Network.remove``.
Docker's own networks are used (a user-defined bridge created here), never a host network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SITE_IMAGE = "fednode-site:0.1.0"
COORDINATOR_IMAGE = "fednode-coordinator:0.1.0"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{DEBIAN_PATH}:{env.get('PATH', '')}"  # Debian's docker client has compose; /usr/local's has not
    return env


def sh(
    args: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None, check: bool = True, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run a command with a bound on its time; on failure show the tail of its output."""
    merged = _env() | dict(env or {})
    result = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, env=merged, cwd=cwd, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} -> {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def require_docker() -> None:
    """Skip without a daemon, unless CI demands the test (FEDNODE_REQUIRE_DOCKER=1): then fail."""
    docker = shutil.which("docker", path=DEBIAN_PATH)
    compose = shutil.which("docker-compose", path=DEBIAN_PATH)
    ok = (
        docker is not None
        and compose is not None
        and subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False, env=_env()).returncode == 0
    )
    if not ok:
        if os.environ.get("FEDNODE_REQUIRE_DOCKER") == "1":
            pytest.fail("FEDNODE_REQUIRE_DOCKER=1 but no Docker daemon / docker-compose is available")
        pytest.skip("no Docker daemon (start dockerd, or run .ci/run)")


def base_image() -> str:
    """The BASE_IMAGE build argument: the registry default when present, else the local debootstrap one."""
    explicit = os.environ.get("FEDNODE_BASE_IMAGE")
    if explicit:
        return explicit
    for candidate in ("python:3.11-slim-bookworm", "fednode/base:bookworm"):
        if sh(["docker", "image", "inspect", candidate], timeout=30, check=False).returncode == 0:
            return candidate
    sh([str(REPO / "images/base/build-base.sh"), "fednode/base:bookworm"], timeout=900)
    return "fednode/base:bookworm"


def build_images() -> None:
    """Wheelhouse on the host, then both images (they share every layer but the last few)."""
    lock = REPO / "requirements.lock"
    marker = REPO / "wheelhouse" / ".built"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        sh([str(REPO / "images/wheelhouse.sh")], timeout=1800)
        marker.touch()
    base = base_image()
    for role, tag in (("site", SITE_IMAGE), ("coordinator", COORDINATOR_IMAGE)):
        sh(
            [
                "docker",
                "build",
                "-q",
                "-f",
                f"images/{role}/Dockerfile",
                "--build-arg",
                f"BASE_IMAGE={base}",
                "-t",
                tag,
                ".",
            ],
            timeout=1800,
        )


@dataclass
class Network:
    """A user-defined bridge network for one test run."""

    name: str = field(default_factory=lambda: f"fednode-e2e-{uuid.uuid4().hex[:8]}")

    def create(self) -> Network:
        sh(["docker", "network", "create", "--driver", "bridge", self.name], timeout=60)
        return self

    def remove(self) -> None:
        sh(["docker", "network", "rm", self.name], timeout=60, check=False)


@dataclass
class Stack:
    """One compose project (a site or the coordinator) with its environment."""

    project: str
    files: Sequence[Path]
    env: dict[str, str]

    def _cmd(self, *args: str) -> list[str]:
        cmd = ["docker-compose", "--project-name", self.project]
        for f in self.files:
            cmd += ["-f", str(f)]
        return [*cmd, *args]

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh(self._cmd(*args), timeout=timeout, env=self.env, check=check)

    def up(self, service: str) -> None:
        self.compose("up", "-d", service, timeout=300)

    def run(self, service: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return self.compose("run", "--rm", "-T", service, *args, timeout=timeout)

    def exec(
        self, service: str, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", service, *args, timeout=timeout, check=check)

    def exec_json(self, service: str, *args: str, timeout: float = 300) -> dict[str, Any]:
        out = self.exec(service, "fednode", "--json", *args, timeout=timeout).stdout
        payload: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return payload

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "200", timeout=60, check=False).stdout

    def stop(self, service: str) -> None:
        self.compose("stop", service, timeout=120)

    def start(self, service: str) -> None:
        self.compose("start", service, timeout=120)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", timeout=300, check=False)


def wait_until(predicate: object, *, timeout: float, interval: float = 3.0, what: str) -> None:
    """Poll ``predicate()`` until it is truthy, or fail naming what was awaited."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (AssertionError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last error: {last_error}")
