"""Run a provisioned federation as real local processes (the demo, the integration test, the benchmark).

Each participant (coordinator, sites) is one NVFlare parent process started from its startup kit, in its own
process group so that stopping it also stops the job processes it spawned. Sites get their own ``FEDNODE_HOME``
in the environment: the site components (gate, executor, egress guard) read their settings from it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from fednode.errors import ServiceError
from node.kit.layout import Federation
from node.kit.runtime import CLIENT_OUTCOME_WAIT_ENV, CLIENT_OUTCOME_WAIT_S, child_pythonpath

log = logging.getLogger("fednode.node.coordinator.launcher")

_SERVER_MODULE = "nvflare.private.fed.app.server.server_train"
_CLIENT_MODULE = "nvflare.private.fed.app.client.client_train"


@dataclass
class Participant:
    """One running NVFlare parent process and where its output goes."""

    name: str
    kit: Path
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def _descendants(self) -> list[psutil.Process]:
        """The job processes this participant spawned (NVFlare starts them in sessions of their own)."""
        try:
            return list(psutil.Process(self.popen.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def _signal_all(self, sig: signal.Signals, descendants: list[psutil.Process]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)  # started with start_new_session: the group id is the parent's pid
        for proc in descendants:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc.send_signal(sig)

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the parent and every job process it spawned: SIGTERM, then SIGKILL after ``grace_s``."""
        descendants = self._descendants()
        self._signal_all(signal.SIGTERM, descendants)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace_s)
        psutil.wait_procs(descendants, timeout=grace_s)
        self._signal_all(signal.SIGKILL, descendants)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace_s)

    def kill(self) -> None:
        """Kill the participant and its job processes at once (a site dropping out)."""
        self._signal_all(signal.SIGKILL, self._descendants())
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


@dataclass
class LocalFederation:
    """Start and stop a provisioned federation on this machine. Use as a context manager."""

    federation: Federation
    site_homes: Mapping[str, Path] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for every participant (``HOME``, offline flags)."""
    client_outcome_wait_s: float = CLIENT_OUTCOME_WAIT_S
    """How long the coordinator waits for a site's end-of-job report before it closes a finished job (NVFlare's
    default, 900 s, keeps a job RUNNING for 15 minutes after a site dropped out)."""
    participants: dict[str, Participant] = field(default_factory=dict)

    def __enter__(self) -> LocalFederation:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _environ(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(extra)
        env["PYTHONPATH"] = child_pythonpath(env.get("PYTHONPATH"))
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _spawn(self, name: str, kit: Path, args: list[str], extra_env: Mapping[str, str]) -> Participant:
        log_path = kit / "fednode-process.log"
        (kit / "transfer").mkdir(exist_ok=True)
        for stale in ("pid.fl", "daemon_pid.fl", "shutdown.fl", "restart.fl"):
            (kit / stale).unlink(missing_ok=True)
        with log_path.open("ab") as out:
            popen = subprocess.Popen(  # noqa: S603  # fixed module paths, arguments from our own kit layout
                [sys.executable, "-u", "-m", *args],
                cwd=kit,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._environ(extra_env),
                start_new_session=True,
            )
        participant = Participant(name=name, kit=kit, popen=popen, log_path=log_path)
        self.participants[name] = participant
        log.info("federation.process_started name=%s pid=%d", name, popen.pid)
        return participant

    def start_server(self) -> Participant:
        fed = self.federation
        args = [
            _SERVER_MODULE,
            "-m",
            str(fed.server_dir),
            "-s",
            "fed_server.json",
            "--set",
            "secure_train=true",
            "config_folder=config",
        ]
        extra = {CLIENT_OUTCOME_WAIT_ENV: str(self.client_outcome_wait_s)}
        return self._spawn(fed.server_name, fed.server_dir, args, extra)

    def start_site(self, name: str) -> Participant:
        kit = self.federation.site_dirs[name]
        args = [
            _CLIENT_MODULE,
            "-m",
            str(kit),
            "-s",
            "fed_client.json",
            "--set",
            "secure_train=true",
            f"uid={name}",
            "config_folder=config",
        ]
        extra = {"FEDNODE_HOME": str(self.site_homes[name])} if name in self.site_homes else {}
        if name in self.site_homes:
            extra["FEDNODE_SITE_NAME"] = name
        return self._spawn(name, kit, args, extra)

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the coordinator, wait for its port, start every site, wait until all have registered."""
        self.start_server()
        wait_for_port("127.0.0.1", self.federation.fl_port, timeout_s, self.participants[self.federation.server_name])
        for name in self.federation.site_dirs:
            self.start_site(name)
        self.wait_for_sites(list(self.federation.site_dirs), timeout_s)

    def wait_for_sites(self, names: list[str], timeout_s: float) -> None:
        """Block until every named site is connected to the coordinator."""
        deadline = time.monotonic() + timeout_s
        with self.admin_session() as sess:
            while True:
                connected = {c.name for c in sess.get_system_info().client_info}
                if set(names) <= connected:
                    log.info("federation.sites_connected sites=%s", sorted(connected))
                    return
                self._check_alive()
                if time.monotonic() > deadline:
                    missing = sorted(set(names) - connected)
                    raise ServiceError(f"sites did not connect within {timeout_s:.0f} s: {missing}")
                time.sleep(1.0)

    def _check_alive(self) -> None:
        for p in self.participants.values():
            if not p.alive:
                raise ServiceError(f"participant {p.name} exited with {p.popen.returncode}; see {p.log_path}")

    @contextlib.contextmanager
    def admin_session(self, timeout_s: float = 60.0) -> Iterator[Any]:
        """A FLARE API session as the project admin (mutual TLS with the admin's startup kit)."""
        with admin_session(self.federation, timeout_s) as sess:
            yield sess

    def stop(self) -> None:
        """Stop the sites, then the coordinator (each process group), whatever state they are in."""
        server = self.federation.server_name
        for name, p in list(self.participants.items()):
            if name != server:
                p.stop()
        if server in self.participants:
            self.participants[server].stop()
        log.info("federation.stopped")


@contextlib.contextmanager
def admin_session(federation: Federation, timeout_s: float = 60.0) -> Iterator[Any]:
    """Open ``new_secure_session`` with the admin kit, closed on exit. Its chatter goes to stderr, so that
    ``--json`` output stays one object on stdout."""
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    try:
        with contextlib.redirect_stdout(sys.stderr):  # NVFlare prints "Connecting to FLARE ..." on stdout
            sess = new_secure_session(federation.admin_name, str(federation.admin_dir), timeout=timeout_s)
    except Exception as exc:  # NVFlare raises several unrelated types here
        raise ServiceError(f"cannot open an admin session to the coordinator: {type(exc).__name__}: {exc}") from exc
    try:
        yield sess
    finally:
        sess.close()


def wait_for_port(host: str, port: int, timeout_s: float, process: Participant | None = None) -> None:
    """Wait until a TCP port accepts connections (the coordinator is listening)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            if s.connect_ex((host, port)) == 0:
                return
        if process is not None and not process.alive:
            raise ServiceError(f"{process.name} exited with {process.popen.returncode}; see {process.log_path}")
        time.sleep(0.5)
    raise ServiceError(f"{host}:{port} did not open within {timeout_s:.0f} s")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
