"""Starting a confined job from the site: the command line and a supervised, blocking run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from node.site.sandbox._denials import Denial, read_denials
from node.site.sandbox._spec import SandboxSpec

_REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class ConfinedRun:
    """The outcome of :func:`run_confined`."""

    returncode: int
    """The job's exit status (negative: killed by that signal; 70: confinement failed before exec)."""
    stdout: bytes
    stderr: bytes
    timed_out: bool
    """The wall-time limit was reached and the job's process group killed."""
    denials: tuple[Denial, ...]
    """What the audit hook reported (kernel-only denials are not reported)."""


def sandbox_command(spec_path: str | os.PathLike[str], argv: Sequence[str], *, python: str | None = None) -> list[str]:
    """The argv a launcher spawns: ``[python, -I, -m, node.site.sandbox, --spec, SPEC, --, *argv]``.

    ``-I`` (isolated): the wrapper runs unconfined until it execs, so neither the working directory nor
    ``PYTHONPATH`` (NVFlare puts the app's ``custom/`` on it) may shadow a module it imports; ``node`` must be
    installed in ``python``'s environment. The job itself gets only ``spec.env``.
    """
    return [python or sys.executable, "-I", "-m", "node.site.sandbox", "--spec", os.fspath(spec_path), "--", *argv]


def run_confined(
    spec: SandboxSpec,
    argv: Sequence[str],
    *,
    spec_path: str | os.PathLike[str] | None = None,
    input: bytes | None = None,
    python: str | None = None,
) -> ConfinedRun:
    """Run ``argv`` confined by ``spec`` and wait for it (killing its process group at ``spec.wall_seconds``).

    ``spec_path`` (default: a temporary file) is where the spec is written for the wrapper; keep it outside
    ``spec.workdir``.
    """
    with tempfile.TemporaryDirectory(prefix="fednode-sandbox-") as tmp:
        path = spec.write(spec_path if spec_path is not None else Path(tmp) / "spec.json")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(_REPO_ROOT)}
        proc = subprocess.Popen(  # noqa: S603 - the sandbox wrapper with a fixed argv shape
            sandbox_command(path, argv, python=python),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp,
        )
        timed_out = False
        try:
            out, err = proc.communicate(input, timeout=spec.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            out, err = proc.communicate()
        else:
            _kill_group(proc.pid)  # whatever the job left running in its session
    denials = tuple(read_denials(spec.report_path)) if spec.report_path is not None else ()
    return ConfinedRun(proc.returncode, out, err, timed_out, denials)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
