# ruff: noqa: PTH120, SIM110, SIM105, RUF015
# (runs before every job import: plain os.path and loops, no pathlib or contextlib imports)
"""Installed first in a confined job's interpreter (this folder leads its PYTHONPATH): the reporting audit hook.

Standard library only, no fednode import. The hook is the *reporter*; the kernel (Landlock, seccomp) is the
enforcement. For an event the sandbox forbids it appends one JSON line ``{action, category, target, at}`` to
the inherited report fd (append-only) and raises PermissionError. It records kinds of targets, never paths
or contents.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def _install() -> None:
    raw = os.environ.get("FEDNODE_SANDBOX_HOOK")
    if not raw:
        return
    cfg = json.loads(raw)
    fd: int | None = cfg.get("fd")
    workdir = os.path.normpath(cfg["workdir"])
    writable = tuple(os.path.normpath(p) for p in [workdir, *cfg["write"]])
    # /proc/<pid>: the kernel rule for /proc/self names this process's own folder (the pid survives execve)
    readable = writable + tuple(os.path.normpath(p) for p in cfg["read"]) + (f"/proc/{os.getpid()}",)
    executables = frozenset(os.path.normpath(p) for p in cfg["exec"])
    ports = frozenset(int(p) for p in cfg["ports"])
    may_bind = bool(cfg["bind"])
    jobs_root = os.path.dirname(workdir)
    parent = os.getppid()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    abspath, realpath, normpath, basename = os.path.abspath, os.path.realpath, os.path.normpath, os.path.basename
    dumps, gmtime, strftime, write = json.dumps, time.gmtime, time.strftime, os.write

    def under(path: str, roots: tuple[str, ...]) -> bool:
        for root in roots:
            if path == root or path.startswith(root + "/") or root == "/":
                return True
        return False

    def allowed(path: str, roots: tuple[str, ...]) -> bool:
        if under(path, roots):
            return True
        return under(realpath(path), roots)

    def kind(path: str) -> str:
        name = basename(path)
        parts = path.split("/")
        if name.startswith("state.db"):
            return "state.db"
        if name.startswith("omop.db"):
            return "omop.db"
        if "keys" in parts or name.endswith((".key", ".pem", ".crt")):
            return "keys"
        if path.startswith("/proc/") and name == "environ":
            return "proc-environ"
        if path.startswith("/proc/"):
            return "proc"
        if "startup" in parts:
            return "startup-kit"
        if jobs_root not in ("", "/") and path.startswith(jobs_root + "/") and not under(path, (workdir,)):
            return "other-job"
        return "outside-workdir"

    def deny(action: str, category: str, target: str, *, report: bool = True, code: int = errno.EACCES) -> None:
        if report and fd is not None:
            line = dumps(
                {
                    "action": action,
                    "category": category,
                    "target": target,
                    "at": strftime("%Y-%m-%dT%H:%M:%SZ", gmtime()),
                }
            )
            try:
                write(fd, (line + "\n").encode())
            except OSError:
                pass
        raise PermissionError(code, f"sandbox: {action} denied ({category}: {target})")

    def as_path(value: Any) -> str | None:
        if isinstance(value, int):
            return None
        try:
            text = os.fsdecode(os.fspath(value))
        except TypeError:
            return None
        return normpath(abspath(text))

    def on_open(args: tuple[Any, ...]) -> None:
        path = as_path(args[0])
        if path is None:
            return
        mode, flags = args[1], args[2]
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and bool(flags & write_flags)
        )
        if writes:
            if not allowed(path, writable):
                deny("open", "file-write", kind(path))
        elif not allowed(path, readable):
            deny("open", "file-read", kind(path))

    def on_exec(action: str, program: Any) -> None:
        path = as_path(program) if program is not None else None
        if path is None or (normpath(path) not in executables and realpath(path) not in executables):
            deny(action, "process", "executable")

    def on_popen(args: tuple[Any, ...]) -> None:
        program = args[0]
        if program is None:
            argv = args[1]
            program = argv if isinstance(argv, (str, bytes)) else (list(argv)[0] if argv else None)
            if isinstance(program, str) and os.sep not in program:
                import shutil

                program = shutil.which(program) or program
        on_exec("subprocess.Popen", program)

    def on_socket(action: str, args: tuple[Any, ...]) -> None:
        address = args[1]
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
            port = address[1]
            if action == "socket.bind":
                if not may_bind:
                    deny(action, "network", "tcp-bind")
            elif port not in ports:
                deny(action, "network", f"tcp:{port}")
        elif isinstance(address, (str, bytes)):
            text = os.fsdecode(address)
            if not text or text.startswith("\0"):
                deny(action, "network", "abstract-unix-socket")
            elif not allowed(normpath(abspath(text)), writable):
                deny(action, "network", "unix-socket")

    def kill_target(action: str, pid: int) -> str | None:
        """The kind of process a signal would reach outside the job's own process group, else None."""
        if action == "os.killpg" or pid < 0:
            if pid == -1:
                return "all-processes"
            return None if abs(pid) in (0, os.getpgrp()) else "site-process"
        if pid in (0, os.getpid()):
            return None
        if pid == parent:
            return "parent-process"
        if pid == 1:
            return "init"
        try:
            foreign = os.getpgid(pid) != os.getpgrp()
        except OSError:
            return None
        return "site-process" if foreign else None

    def on_kill(action: str, args: tuple[Any, ...]) -> None:
        target = kill_target(action, args[0])
        if target is not None:
            # Signal 0 delivers nothing: a liveness probe (NVFlare's trainer watchdog sends one to the job
            # process about twice a second). Refused with EPERM as the kernel's scope refuses it, not reported.
            probe_only = len(args) > 1 and args[1] == 0
            deny(action, "signal", target, report=not probe_only, code=errno.EPERM)

    def on_resolve(action: str, args: tuple[Any, ...]) -> None:
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        if host in (None, "", "localhost", "127.0.0.1", "::1"):
            return
        deny(action, "network", "dns")

    def on_dlopen(args: tuple[Any, ...]) -> None:
        path = as_path(args[0]) if isinstance(args[0], (str, bytes)) and "/" in os.fsdecode(args[0]) else None
        if path is not None and not allowed(path, readable):
            deny("ctypes.dlopen", "native", kind(path))

    def on_socket_new(args: tuple[Any, ...]) -> None:
        family, type_ = args[1], args[2]
        if family in (2, 10) and type_ & 0xF != 1:
            deny("socket.socket", "network", "datagram-socket")

    def check_path(action: str, value: Any, roots: tuple[str, ...], category: str) -> None:
        path = as_path(value)
        if path is not None and not allowed(path, roots):
            deny(action, category, kind(path))

    def on_listdir(action: str, args: tuple[Any, ...]) -> None:
        check_path(action, "." if args[0] is None else args[0], readable, "file-read")

    def on_change(action: str, paths: tuple[Any, ...], dir_fds: tuple[Any, ...]) -> None:
        if any(d not in (None, -1) for d in dir_fds):
            return  # relative to a directory fd: the kernel decides
        for value in paths:
            check_path(action, value, writable, "file-write")

    handlers: dict[str, Callable[[tuple[Any, ...]], None]] = {
        "open": on_open,
        "os.system": lambda a: deny("os.system", "process", "shell"),
        "os.exec": lambda a: on_exec("os.exec", a[0]),
        "os.posix_spawn": lambda a: on_exec("os.posix_spawn", a[0]),
        "os.spawn": lambda a: on_exec("os.spawn", a[1]),
        "subprocess.Popen": on_popen,
        "socket.connect": lambda a: on_socket("socket.connect", a),
        "socket.bind": lambda a: on_socket("socket.bind", a),
        "socket.sendto": lambda a: on_socket("socket.connect", a),
        "socket.__new__": on_socket_new,
        "socket.getaddrinfo": lambda a: on_resolve("socket.getaddrinfo", a),
        "socket.gethostbyname": lambda a: on_resolve("socket.gethostbyname", a),
        "os.kill": lambda a: on_kill("os.kill", a),
        "os.killpg": lambda a: on_kill("os.killpg", a),
        "ctypes.dlopen": on_dlopen,
        "os.listdir": lambda a: on_listdir("os.listdir", a),
        "os.scandir": lambda a: on_listdir("os.scandir", a),
        "os.rename": lambda a: on_change("os.rename", a[:2], a[2:4]),
        "os.link": lambda a: on_change("os.link", a[1:2], a[2:4]),
        "os.symlink": lambda a: on_change("os.symlink", a[1:2], a[2:3]),
        "os.remove": lambda a: on_change("os.remove", a[:1], a[1:2]),
        "os.rmdir": lambda a: on_change("os.rmdir", a[:1], a[1:2]),
        "os.mkdir": lambda a: on_change("os.mkdir", a[:1], a[2:3]),
        "os.truncate": lambda a: on_change("os.truncate", a[:1], ()),
        "os.chmod": lambda a: on_change("os.chmod", a[:1], a[2:3]),
        "os.chown": lambda a: on_change("os.chown", a[:1], a[3:4]),
    }
    get = handlers.get

    def hook(event: str, args: tuple[Any, ...]) -> None:
        handler = get(event)
        if handler is not None:
            handler(args)

    sys.addaudithook(hook)


_install()
del _install
