"""Confinement of researchers' job code (BYOC) in a separate, kernel-confined process.

The site never runs job code in the process that holds its egress guard and filters. It starts the job's
process through this package, which confines the process *before any job code is imported* and then
``execve``s the job's command::

    python -I -m node.site.sandbox --spec SPEC.json -- /path/to/python -u custom/train.py --data_dir data

(``-I``: the wrapper is unconfined until it execs, so nothing from the job's folder or ``PYTHONPATH`` may shadow
its imports.)

In the child, in this order (:func:`confine_and_exec`):

1. ``setsid`` (own session and process group, so the site can kill the whole job at once);
2. optionally a switch to ``spec.run_as_uid``/``run_as_gid`` (only when started as root; the shipped site
   container runs as uid 10001 without capabilities, so there the job shares the site's uid and this is skipped);
3. resource limits: ``RLIMIT_AS`` (memory), ``RLIMIT_NPROC`` (processes and threads, *added* to what the uid
   already runs), ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, ``RLIMIT_CORE`` 0, and an ``alarm`` for wall time (the
   parent should also enforce ``wall_seconds``: :func:`run_confined` does);
4. ``PR_SET_NO_NEW_PRIVS``;
5. a seccomp filter that refuses datagram and raw sockets (Landlock covers TCP only) where ``block_datagram``;
6. a Landlock ruleset: every file-system right the kernel's ABI knows is handled; reads (and directory listing)
   are allowed under ``workdir``, ``read_only`` and ``read_write``; writes only under ``workdir`` and
   ``read_write``; *execution* only of the files in ``executables`` (the Python interpreter and the dynamic
   loader), so ``/bin/sh`` cannot be run although ``/usr`` is readable; TCP bind is refused unless
   ``allow_bind``; TCP connect only to ``connect_ports`` (ABI >= 4); signals and abstract unix sockets are
   scoped to the job's own processes (ABI >= 6), so it cannot signal or reach the site's processes;
7. ``execve(argv, env)`` with exactly ``spec.env`` (nothing else is inherited: no secrets; ``TMPDIR`` defaults
   to the workdir), plus the audit hook's two variables when ``spec.audit_hook``; every fd >= 3 but the
   report fd is closed first.

The audit hook (``_bootstrap/sitecustomize.py``, put first on the child's ``PYTHONPATH``) is only the
*reporter*: for an event the spec forbids (``open`` outside the allowed paths or a write outside the writable
ones, ``socket.connect``/``socket.bind``, ``subprocess.Popen``, ``os.system``, ``os.exec``, ``os.posix_spawn``,
``os.spawn``, ``os.kill`` of the parent or pid 1, ``ctypes.dlopen`` of a file outside the allowed paths) it
appends one JSON line ``{"action", "category", "target", "at"}`` to ``report_path`` through an inherited,
append-only file descriptor and raises :class:`PermissionError`. Reports name categories and path *kinds*
("state.db", "outside-workdir"), never contents or full paths. Landlock is the enforcement: code that
bypasses the hook (``ctypes``, ``python -I -S``) is still denied by the kernel, just not reported.

Where the kernel cannot confine (:func:`probe` says ``available=False``), the site must refuse BYOC jobs
with ``support.reason`` and still run config-only ones.

Public API:

- :class:`SandboxSpec` (frozen; ``to_json``/``from_json``/``write``/``load``; ``SandboxSpec.for_job`` fills
  in the Python runtime's read-only paths and executables),
- :func:`runtime_paths` (read-only folders and executables of a Python interpreter),
- :func:`probe` -> :class:`SandboxSupport`, :func:`require_support` (raises :class:`SandboxUnavailableError`),
- :func:`confine_and_exec` (never returns), :func:`sandbox_command` (the argv a launcher spawns),
- :func:`run_confined` -> :class:`ConfinedRun` (spawn, wait with the wall-time limit, collect denials),
- :func:`read_denials` -> list of :class:`Denial`, :data:`AUDIT_EVENT` (``"sandbox:denied"``).
"""

from __future__ import annotations

from fednode.errors import SandboxError, SandboxUnavailableError
from node.site.sandbox._confine import confine_and_exec
from node.site.sandbox._denials import AUDIT_EVENT, Denial, read_denials
from node.site.sandbox._landlock import SandboxSupport, probe, require_support
from node.site.sandbox._run import ConfinedRun, run_confined, sandbox_command
from node.site.sandbox._spec import SandboxSpec, runtime_paths

__all__ = [
    "AUDIT_EVENT",
    "ConfinedRun",
    "Denial",
    "SandboxError",
    "SandboxSpec",
    "SandboxSupport",
    "SandboxUnavailableError",
    "confine_and_exec",
    "probe",
    "read_denials",
    "require_support",
    "run_confined",
    "runtime_paths",
    "sandbox_command",
]
