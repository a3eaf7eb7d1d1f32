"""Confining the current process, then ``execve`` of the job's command."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import resource
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from fednode.errors import SandboxError
from node.site.sandbox import _seccomp
from node.site.sandbox._landlock import (
    FS_EXECUTE,
    NET_BIND_TCP,
    NET_CONNECT_TCP,
    READ,
    WRITE,
    Ruleset,
    landlock_abi,
)
from node.site.sandbox._spec import SandboxSpec

log = logging.getLogger("fednode.site.sandbox")

PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
BOOTSTRAP_DIR = Path(__file__).resolve().parent / "_bootstrap"
"""Holds the ``sitecustomize`` that installs the reporting audit hook; prepended to the child's PYTHONPATH."""
HOOK_ENV = "FEDNODE_SANDBOX_HOOK"


def confine_and_exec(spec: SandboxSpec, argv: Sequence[str]) -> NoReturn:
    """Confine this process per ``spec`` (see the package docstring for the order) and ``execve(argv)``.

    Fails closed: any step that cannot be applied raises :class:`SandboxError` before ``argv`` runs. Every
    file descriptor but 0-2 (and the report fd) is closed, so nothing the launcher held open leaks in.
    """
    if not argv:
        raise SandboxError("sandbox: no command to run")
    executable = _resolve(argv[0], spec)
    report_fd = _open_report(spec)
    env = _child_env(spec, report_fd)
    try:
        os.chdir(spec.workdir)
    except OSError as exc:
        raise SandboxError(f"sandbox: cannot enter the job's working directory ({exc.strerror})") from None
    confine(spec, keep_fds=(report_fd,) if report_fd is not None else ())
    try:
        os.execve(executable, list(argv), env)  # noqa: S606 - the job's argv, no shell
    except OSError as exc:
        raise SandboxError(f"sandbox: cannot start the job's command ({exc.strerror})") from None


def confine(spec: SandboxSpec, *, keep_fds: Sequence[int] = ()) -> None:
    """Apply steps 1-6 of the package docstring to this process (no exec). Irreversible."""
    with contextlib.suppress(PermissionError):  # already a session leader
        os.setsid()
    _switch_user(spec)
    _set_limits(spec)
    _close_fds(keep_fds)
    libc = ctypes.CDLL(None, use_errno=True)
    if (
        libc.prctl(
            ctypes.c_int(PR_SET_NO_NEW_PRIVS),
            ctypes.c_ulong(1),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
        != 0
    ):
        raise SandboxError("sandbox: PR_SET_NO_NEW_PRIVS failed")
    if spec.block_datagram:
        if not _seccomp.supported():
            raise SandboxError("sandbox: no datagram-socket filter for this architecture")
        try:
            _seccomp.install()
        except OSError as exc:
            raise SandboxError(f"sandbox: seccomp filter refused ({exc.strerror})") from None
    _landlock(spec)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGXCPU, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    if spec.wall_seconds:
        signal.alarm(spec.wall_seconds)


def _landlock(spec: SandboxSpec) -> None:
    abi, err = landlock_abi()
    if abi < spec.min_abi:
        why = os.strerror(err) if err else f"ABI {abi}"
        raise SandboxError(f"sandbox: Landlock unavailable or too old ({why}; need ABI {spec.min_abi})")
    try:
        rules = Ruleset(abi)
        for path in (*spec.read_only, BOOTSTRAP_DIR):
            rules.allow_path(str(path), READ)
        for path in spec.read_write:
            rules.allow_path(str(path), WRITE)
        if not rules.allow_path(str(spec.workdir), WRITE):
            raise SandboxError("sandbox: the job's working directory does not exist or is not reachable")
        for path in spec.executables:
            rules.allow_path(str(path), FS_EXECUTE | READ)
        for port in spec.connect_ports:
            rules.allow_port(port, NET_CONNECT_TCP | (NET_BIND_TCP if spec.allow_bind else 0))
        if spec.allow_bind:
            rules.allow_port(0, NET_BIND_TCP)  # an ephemeral port; the job cannot pick a listening one else
        rules.restrict_self()
    except OSError as exc:
        raise SandboxError(f"sandbox: Landlock ruleset refused ({exc.strerror})") from None


def _switch_user(spec: SandboxSpec) -> None:
    if spec.run_as_uid is None:
        return
    if os.geteuid() != 0:
        log.info("sandbox.user_switch_skipped", extra={"reason": "not root; the job keeps the site's uid"})
        return
    gid = spec.run_as_gid if spec.run_as_gid is not None else spec.run_as_uid
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(spec.run_as_uid, spec.run_as_uid, spec.run_as_uid)
    except OSError as exc:
        raise SandboxError(f"sandbox: cannot switch to the job's uid ({exc.strerror})") from None


def _uid_tasks(uid: int) -> int:
    """Processes and threads that ``uid`` runs now (what RLIMIT_NPROC counts)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        real = threads = -1
        for line in text.splitlines():
            if line.startswith("Uid:"):
                real = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if real == uid and threads > 0:
            total += threads
    return total


def _set_limits(spec: SandboxSpec) -> None:
    limits: list[tuple[int, int, int]] = [(resource.RLIMIT_CORE, 0, 0)]
    if spec.memory_bytes:
        limits.append((resource.RLIMIT_AS, spec.memory_bytes, spec.memory_bytes))
    if spec.max_processes:
        n = _uid_tasks(os.getuid()) + spec.max_processes
        limits.append((resource.RLIMIT_NPROC, n, n))
    if spec.cpu_seconds:
        limits.append((resource.RLIMIT_CPU, spec.cpu_seconds, spec.cpu_seconds + 5))
    if spec.file_size_bytes:
        limits.append((resource.RLIMIT_FSIZE, spec.file_size_bytes, spec.file_size_bytes))
    for which, soft, hard in limits:
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError) as exc:
            raise SandboxError(f"sandbox: cannot set resource limit {which} ({exc})") from None


def _close_fds(keep: Sequence[int]) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20 if _max_fd() > 1 << 20 else _max_fd())


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 16


def _open_report(spec: SandboxSpec) -> int | None:
    if spec.report_path is None or not spec.audit_hook:
        return None
    try:
        fd = os.open(spec.report_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise SandboxError(f"sandbox: cannot open the denial report ({exc.strerror})") from None
    if fd < 3:
        fd2 = os.dup(fd)  # never take the place of stdin/out/err
        os.close(fd)
        fd = fd2
    os.set_inheritable(fd, True)
    return fd


def _child_env(spec: SandboxSpec, report_fd: int | None) -> dict[str, str]:
    env = dict(spec.env)
    env.setdefault("TMPDIR", str(spec.workdir))  # tempfile would probe /tmp, /var/tmp, ... first: all denied
    if spec.audit_hook:
        paths = [str(BOOTSTRAP_DIR)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env[HOOK_ENV] = json.dumps(
            {
                "fd": report_fd,
                "workdir": str(spec.workdir),
                "read": [str(p) for p in (*spec.read_only, *spec.executables, BOOTSTRAP_DIR)],
                "write": [str(p) for p in spec.read_write],
                "exec": [str(p) for p in spec.executables],
                "ports": list(spec.connect_ports),
                "bind": spec.allow_bind,
            },
            separators=(",", ":"),
        )
    return env


def _resolve(command: str, spec: SandboxSpec) -> str:
    if os.sep in command:
        return command if Path(command).is_absolute() else str(Path(spec.workdir, command))
    found = shutil.which(command, path=spec.env.get("PATH", ""))
    if found is None:
        raise SandboxError(f"sandbox: {command!r} is not on the job's PATH")
    return found
