"""A site laid out on disk for sandbox tests: a job folder, a sibling job, the site's secrets, staged data."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from node.site.sandbox import ConfinedRun, SandboxSpec, probe, run_confined

SUPPORT = probe()
needs_landlock = pytest.mark.skipif(not SUPPORT.available, reason=f"Landlock unavailable: {SUPPORT.reason}")
"""Skip confinement tests only where probe() says the kernel cannot confine."""


@dataclass
class Site:
    """Paths standing in for a site: ``FEDNODE_HOME`` with state.db/omop.db/keys, jobs/, the staging area."""

    root: Path
    home: Path
    workdir: Path
    sibling: Path
    data: Path
    report: Path
    outside: Path

    def spec(self, **options: Any) -> SandboxSpec:
        """A job spec like the launcher's: workdir, staged data read-only, reports outside the workdir."""
        options.setdefault("report_path", self.report)
        options.setdefault("wall_seconds", 120)
        return SandboxSpec.for_job(self.workdir, read_only=[self.data], **options)

    def run(self, code: str, *, flags: tuple[str, ...] = (), python: str | None = None, **options: Any) -> ConfinedRun:
        """Run ``python [flags] -c code`` confined; ``flags=("-I", "-S")`` bypasses the audit hook."""
        exe = python or sys.executable
        return run_confined(self.spec(python=exe, **options), [exe, *flags, "-c", code])


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A fresh site tree for each test."""
    home = tmp_path / "fednode-home"
    (home / "keys").mkdir(parents=True)
    (home / "state.db").write_text("approvals")
    (home / "omop.db").write_text("patients")
    (home / "keys" / "site.key").write_text("PRIVATE KEY")
    jobs = tmp_path / "jobs"
    workdir = jobs / "job-a"
    sibling = jobs / "job-b"
    (workdir / "custom").mkdir(parents=True)
    sibling.mkdir()
    (sibling / "train.tsv").write_text("other\tO\n")
    data = tmp_path / "stage" / "data"
    data.mkdir(parents=True)
    (data / "train.tsv").write_text("aspirin\tO\n\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    return Site(tmp_path, home, workdir, sibling, data, reports / "denials.jsonl", outside)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening loopback TCP socket the test owns (the only address any test connects to)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.setblocking(False)
    try:
        yield srv
    finally:
        srv.close()


def accepted_any(srv: socket.socket) -> bool:
    """Whether a connection reached the test's listener."""
    try:
        conn, _ = srv.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def nonroot_python() -> str | None:
    """An interpreter a non-root uid can run (for RLIMIT_NPROC, which root ignores), or None."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None
