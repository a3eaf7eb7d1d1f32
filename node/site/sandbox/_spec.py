"""What a confined job may touch: :class:`SandboxSpec`, and the Python runtime's paths."""

from __future__ import annotations

import json
import os
import site
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fednode.errors import SandboxError

GIB = 1024**3

SYSTEM_READ_ONLY: tuple[str, ...] = (
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/lib",
    "/lib64",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/ssl/certs",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/mime.types",  # mimetypes.init() (aiohttp, requests) opens each of its known files that exists
    "/etc/httpd/mime.types",
    "/etc/httpd/conf/mime.types",
    "/etc/apache/mime.types",
    "/etc/apache2/mime.types",
    "/usr/local/etc/mime.types",
    "/usr/local/etc/httpd/conf/mime.types",
    "/etc/passwd",
    "/etc/group",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",  # psutil (boot time, CPU times), nvflare's monitoring
    "/proc/loadavg",
    "/proc/uptime",
    "/proc/sys/kernel/random/boot_id",
    "/proc/sys/vm/overcommit_memory",
    "/proc/self",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
)
"""Read-only system files a Python/torch process needs; missing ones are skipped at confinement.

``/proc/self`` resolves to the confining process's own ``/proc/<pid>`` (the same pid after ``execve``), so
the job can read its own status and maps but never ``/proc/1`` or its parent's ``environ``.
"""

SYSTEM_READ_WRITE: tuple[str, ...] = ("/dev/null", "/dev/shm")  # noqa: S108 - granted, not created
"""Writable system paths: ``/dev/null`` and POSIX shared memory (torch and multiprocessing use it)."""

DYNAMIC_LOADERS: tuple[str, ...] = (
    "/lib64/ld-linux-x86-64.so.2",
    "/lib/ld-linux-aarch64.so.1",
)


@dataclass(frozen=True)
class RuntimePaths:
    """The read-only folders and the executable files of one Python interpreter."""

    read_only: tuple[Path, ...]
    executables: tuple[Path, ...]


def runtime_paths(python: str | os.PathLike[str] | None = None) -> RuntimePaths:
    """Folders a job needs to read to run ``python`` (default: this interpreter) and the files it may execute.

    Read-only: ``sys.prefix``, ``sys.base_prefix``, the stdlib, site-packages (incl. user site) and the
    system library folders in :data:`SYSTEM_READ_ONLY`. Executables: the interpreter's resolved file and the
    dynamic loader, nothing else (no shell).
    """
    exe = Path(python if python is not None else sys.executable)
    ro: list[Path] = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)]
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            ro.append(Path(value))
    ro.extend(Path(p) for p in site.getsitepackages())
    ro.extend(Path(p) for p in sys.path if p and Path(p).is_absolute() and "site-packages" in p)
    ro.extend(Path(p) for p in SYSTEM_READ_ONLY)
    exes = [exe, exe.resolve()]
    exes.extend(Path(p) for p in DYNAMIC_LOADERS)
    return RuntimePaths(read_only=_unique(ro), executables=_unique(exes))


def _unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    for p in paths:
        seen.setdefault(os.path.normpath(str(p)), Path(os.path.normpath(str(p))))
    return tuple(seen.values())


@dataclass(frozen=True)
class SandboxSpec:
    """Everything the confined job process may do. JSON round-trips (:meth:`to_json`/:meth:`from_json`).

    Paths are absolute. Anything not granted here is denied by the kernel (Landlock) and, where the audit
    hook sees it, reported to ``report_path``.
    """

    workdir: Path
    """The job's working directory: read, write, create, delete (and the child's cwd)."""
    read_only: tuple[Path, ...] = ()
    """Readable trees or files: staged ``data/``, ``model/``, the app's ``custom/``, the Python runtime."""
    read_write: tuple[Path, ...] = ()
    """Extra writable trees or files besides ``workdir`` (e.g. ``/dev/shm``, a scratch dir)."""
    executables: tuple[Path, ...] = ()
    """Files the job may ``execve`` (Landlock EXECUTE): the interpreter and the dynamic loader only."""
    connect_ports: tuple[int, ...] = ()
    """TCP ports the job may connect to (any address: Landlock filters ports only). Default: none."""
    allow_bind: bool = False
    """Whether the job may bind TCP ports (never needed by a Client API job)."""
    memory_bytes: int | None = 8 * GIB
    """RLIMIT_AS (virtual address space) of each process of the job."""
    max_processes: int | None = 256
    """Processes and threads the job may add to what its uid already runs (RLIMIT_NPROC headroom)."""
    cpu_seconds: int | None = None
    """RLIMIT_CPU: SIGXCPU at the limit, SIGKILL 5 s later."""
    wall_seconds: int | None = None
    """Wall-clock limit: an ``alarm`` survives ``execve``; :func:`run_confined` also kills the group."""
    file_size_bytes: int | None = 16 * GIB
    """RLIMIT_FSIZE: the largest file the job may write."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The child's whole environment. Nothing else is inherited; put no secrets here."""
    report_path: Path | None = None
    """Append-only JSON-lines file for the audit hook's denial reports (outside ``workdir``)."""
    run_as_uid: int | None = None
    """Switch to this uid before confining, when started as root; ignored (with a log line) otherwise."""
    run_as_gid: int | None = None
    """Group for ``run_as_uid`` (default: same number as the uid)."""
    audit_hook: bool = True
    """Install the reporting audit hook in a Python child (via ``PYTHONPATH`` sitecustomize)."""
    block_datagram: bool = True
    """Refuse UDP/raw/packet/netlink sockets with a seccomp filter (Landlock governs TCP only)."""
    min_abi: int = 4
    """Lowest Landlock ABI this spec accepts (4: TCP rules). Below it, confinement fails closed."""

    def __post_init__(self) -> None:
        for name in ("workdir", "report_path"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_absolute():
                raise SandboxError(f"sandbox spec: {name} must be an absolute path")
        for name in ("read_only", "read_write", "executables"):
            for p in getattr(self, name):
                if not Path(p).is_absolute():
                    raise SandboxError(f"sandbox spec: every {name} path must be absolute")
        for port in self.connect_ports:
            if not 0 < int(port) < 65536:
                raise SandboxError("sandbox spec: connect_ports must be TCP port numbers")
        for name in ("memory_bytes", "max_processes", "cpu_seconds", "wall_seconds", "file_size_bytes"):
            value = getattr(self, name)
            if value is not None and int(value) <= 0:
                raise SandboxError(f"sandbox spec: {name} must be positive")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()):
            raise SandboxError("sandbox spec: env must map strings to strings")

    @classmethod
    def for_job(
        cls,
        workdir: str | os.PathLike[str],
        *,
        read_only: Iterable[str | os.PathLike[str]] = (),
        read_write: Iterable[str | os.PathLike[str]] = (),
        python: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> SandboxSpec:
        """A spec for a Python job: ``read_only`` plus the runtime of ``python`` (default: this interpreter).

        ``env`` defaults to a minimal one (``PATH``, ``HOME`` = workdir, ``LANG``, ``PYTHONUNBUFFERED``,
        ``PYTHONDONTWRITEBYTECODE``; the child also gets ``TMPDIR`` = workdir unless ``env`` sets it).
        ``options`` are the other fields (limits, ports, ``report_path``, ...).
        """
        rt = runtime_paths(python)
        wd = Path(workdir)
        base_env = {
            "PATH": str(Path(rt.executables[0]).parent) + ":/usr/bin:/bin",
            "HOME": str(wd),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return cls(
            workdir=wd,
            read_only=_unique([*(Path(p) for p in read_only), *rt.read_only]),
            read_write=_unique([*(Path(p) for p in read_write), *(Path(p) for p in SYSTEM_READ_WRITE)]),
            executables=rt.executables,
            env=dict(env) if env is not None else base_env,
            **options,
        )

    def to_json(self) -> str:
        """The spec as a JSON object (paths as strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) if isinstance(v, Path) else v for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return json.dumps(out, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SandboxSpec:
        """Parse :meth:`to_json`'s output; unknown or malformed fields raise :class:`SandboxError`."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SandboxError(f"sandbox spec: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(raw, dict):
            raise SandboxError("sandbox spec: expected a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise SandboxError(f"sandbox spec: unknown field(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        try:
            for name, value in raw.items():
                if name in ("workdir", "report_path"):
                    kwargs[name] = None if value is None else Path(value)
                elif name in ("read_only", "read_write", "executables"):
                    kwargs[name] = tuple(Path(v) for v in value)
                elif name == "connect_ports":
                    kwargs[name] = tuple(int(v) for v in value)
                elif name == "env":
                    kwargs[name] = dict(value)
                else:
                    kwargs[name] = value
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise SandboxError(f"sandbox spec: malformed field ({type(exc).__name__})") from None

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the spec as JSON to ``path`` (mode 0600) and return it."""
        target = Path(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SandboxSpec:
        """Read a spec written by :meth:`write`."""
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SandboxError(f"sandbox spec: cannot read {Path(path).name} ({exc.strerror})") from None
