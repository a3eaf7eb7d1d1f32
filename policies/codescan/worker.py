"""The bounded scan: each job's code is judged in a child process with a wall-clock and a memory limit.

``scan_manifest_bounded`` starts ``python -m policies.codescan`` (:mod:`policies.codescan.__main__`), hands it
the app's files on stdin and reads the findings from stdout. The child limits its own address space
(``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) before reading anything; the parent kills it when the wall-clock
limit passes. Whatever goes wrong (timeout, memory, crash, garbage on stdout), the result is one deny finding
(``scan_incomplete``) for that job alone: the caller's thread is free again after at most the timeout.
Results are cached by the files' content, so a held job re-judged at every scheduling retry costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.contracts import Finding, JobKind, JobManifest

log = logging.getLogger("fednode.policies.codescan")

SCAN_DID_NOT_FINISH = "scan_incomplete"
"""Capability of the finding for a scan that did not finish within its limits (always refused)."""

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CACHE_SIZE = 256


@dataclass(frozen=True)
class ScanLimits:
    """How long and how much memory one job's scan may take."""

    timeout_s: float = 8.0  # below the gate's check timeout (settings.fl.check_timeout_s, 15 s)
    memory_mib: int = 1024

    def as_args(self) -> list[str]:
        """The worker's command-line arguments (``python -m policies.codescan MEMORY_MIB CPU_S``)."""
        return [str(self.memory_mib), str(int(self.timeout_s) + 5)]


_cache: OrderedDict[str, tuple[Finding, ...]] = OrderedDict()
_cache_lock = threading.Lock()


def scan_manifest_bounded(
    manifest: JobManifest,
    *,
    components: frozenset[str] | None = None,
    limits: ScanLimits = ScanLimits(),
    argv: Sequence[str] | None = None,
) -> tuple[Finding, ...]:
    """The scan's findings for ``manifest``, judged in a limited child process (cached by content).

    ``argv`` replaces the worker command (tests use it to stand in a worker that never answers).
    """
    files = {f.path: f.content for f in manifest.files}
    return scan_files_bounded(
        files, byoc=manifest.kind is JobKind.BYOC, components=components, limits=limits, argv=argv
    )


def scan_files_bounded(
    files: Mapping[str, str | None],
    *,
    byoc: bool,
    components: frozenset[str] | None = None,
    limits: ScanLimits = ScanLimits(),
    argv: Sequence[str] | None = None,
) -> tuple[Finding, ...]:
    """:func:`policies.codescan.scan_files` in a limited child process; a failure is one deny finding."""
    request: dict[str, Any] = {
        "files": dict(sorted(files.items())),
        "byoc": byoc,
        "components": sorted(components) if components is not None else None,
    }
    payload = json.dumps(request, sort_keys=True).encode("utf-8")
    key = hashlib.sha256(payload + (repr(tuple(argv)) if argv else "").encode()).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    findings, cacheable = _run(payload, limits, argv)
    if cacheable:
        with _cache_lock:
            _cache[key] = findings
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return findings


def clear_cache() -> None:
    """Forget cached results (benchmarks time the worker itself)."""
    with _cache_lock:
        _cache.clear()


def _run(payload: bytes, limits: ScanLimits, argv: Sequence[str] | None) -> tuple[tuple[Finding, ...], bool]:
    command = list(argv) if argv else [sys.executable, "-m", "policies.codescan", *limits.as_args()]
    env = {"PYTHONPATH": _PACKAGE_ROOT, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}
    try:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
    except OSError as exc:
        log.warning("codescan.worker_failed reason=%s", type(exc).__name__)
        return _failed("the scan could not start"), False
    try:
        out, _ = proc.communicate(payload, timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        log.warning("codescan.timeout limit_s=%s", limits.timeout_s)
        return _failed(f"the scan did not finish within {limits.timeout_s:g} s"), True
    if proc.returncode != 0:
        log.warning("codescan.worker_failed returncode=%s", proc.returncode)
        return _failed(f"the scan did not finish (worker exit {proc.returncode}, memory limit?)"), True
    try:
        raw = json.loads(out.decode("utf-8"))
        return tuple(Finding(**f) for f in raw["findings"]), True
    except (ValueError, KeyError, TypeError):
        return _failed("the scan returned no readable result"), True


def _failed(message: str) -> tuple[Finding, ...]:
    return (Finding("", 0, SCAN_DID_NOT_FINISH, message + ": the job is refused", "deny"),)
