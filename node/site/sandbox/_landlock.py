"""Landlock through ``ctypes``: the ABI probe and the ruleset (x86-64 and aarch64 syscall numbers)."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from fednode.errors import SandboxUnavailableError

# Syscall numbers are the same on x86-64 and aarch64 for these (landlock: 444-446).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1 << 0


@dataclass(frozen=True)
class SandboxSupport:
    """What this kernel can confine. ``available`` is False (with ``reason``) when BYOC must be refused."""

    available: bool
    abi: int
    """Landlock ABI version (0: none)."""
    reason: str
    """Why not available, or which protections are missing at this ABI; empty when complete."""
    network: bool
    """TCP bind/connect rules (ABI >= 4)."""
    scoped: bool
    """Signals and abstract unix sockets scoped to the job (ABI >= 6)."""
    can_switch_user: bool
    """Running as root, so ``run_as_uid`` takes effect."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> tuple[int, int]:
    """(abi, errno): the kernel's Landlock ABI, or 0 and the errno of the failed call."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0, errno.ENOSYS
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    res = libc.syscall(
        ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET),
        ctypes.c_void_p(None),
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    if res < 0:
        return 0, ctypes.get_errno()
    return int(res), 0


def probe(min_abi: int = 4) -> SandboxSupport:
    """Ask the kernel which Landlock ABI it has; ``available`` when it is at least ``min_abi``.

    ABI 4 is the least that also denies TCP; ABI 6 adds scoping of signals and abstract unix sockets
    (below it ``reason`` says the job could signal the site's processes of the same uid).
    """
    abi, err = landlock_abi()
    root = os.geteuid() == 0
    if abi == 0:
        why = {
            errno.ENOSYS: "the kernel has no Landlock (or a seccomp profile blocks it)",
            errno.EOPNOTSUPP: "Landlock is built in but disabled at boot (lsm= does not list landlock)",
            errno.EPERM: "the Landlock syscall is refused here (seccomp profile)",
        }.get(err, f"the Landlock probe failed ({errno.errorcode.get(err, err)})")
        return SandboxSupport(False, 0, f"cannot confine job code: {why}", False, False, root)
    if abi < min_abi:
        return SandboxSupport(
            False,
            abi,
            f"cannot confine job code: Landlock ABI {abi} < {min_abi} (network rules need ABI 4, Linux 6.7)",
            abi >= 4,
            abi >= 6,
            root,
        )
    missing = "" if abi >= 6 else f"Landlock ABI {abi}: signals and abstract unix sockets are not scoped (ABI 6)"
    return SandboxSupport(True, abi, missing, abi >= 4, abi >= 6, root)


def require_support(min_abi: int = 4) -> SandboxSupport:
    """:func:`probe`, raising :class:`SandboxUnavailableError` with the reason when unavailable."""
    support = probe(min_abi)
    if not support.available:
        raise SandboxUnavailableError(support.reason)
    return support


# --- the ruleset ---------------------------------------------------------------------------------------------

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
"""The only rights a rule on a non-directory may carry."""
READ = FS_READ_FILE | FS_READ_DIR
WRITE = (
    READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_MAKE_SYM
    | FS_REFER
    | FS_TRUNCATE
)


def handled_fs(abi: int) -> int:
    """Every file-system right the kernel's ABI knows (all are handled, so all are denied unless granted)."""
    mask = (1 << 13) - 1
    if abi >= 2:
        mask |= FS_REFER
    if abi >= 3:
        mask |= FS_TRUNCATE
    if abi >= 5:
        mask |= FS_IOCTL_DEV
    return mask


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class Ruleset:
    """A Landlock ruleset being built; :meth:`restrict_self` applies it to this thread (and what it execs)."""

    def __init__(self, abi: int, *, handle_net: bool = True, scope: bool = True) -> None:
        self.abi = abi
        self._libc = _libc()
        self._libc.syscall.restype = ctypes.c_long
        self.fs_mask = handled_fs(abi)
        self.net_mask = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 and handle_net else 0
        self.scope_mask = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 and scope else 0
        attr = _RulesetAttr(self.fs_mask, self.net_mask, self.scope_mask)
        size = 8 if abi < 4 else 16 if abi < 6 else 24
        fd = self._syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        self.fd = fd

    def _syscall(self, nr: int, *args: object) -> int:
        res = int(self._libc.syscall(ctypes.c_long(nr), *args))
        if res < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return res

    def allow_path(self, path: str, access: int) -> bool:
        """Grant ``access`` beneath ``path`` (a file gets only file rights). False if the path does not exist."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return False
        try:
            if not Path(f"/proc/self/fd/{fd}").is_dir():
                access &= FILE_RIGHTS
            access &= self.fs_mask
            if not access:
                return True
            rule = _PathBeneathAttr(access, fd)
            self._syscall(
                SYS_LANDLOCK_ADD_RULE,
                ctypes.c_int(self.fd),
                ctypes.c_int(RULE_PATH_BENEATH),
                ctypes.byref(rule),
                ctypes.c_uint32(0),
            )
        finally:
            os.close(fd)
        return True

    def allow_port(self, port: int, access: int) -> None:
        """Grant TCP ``access`` (bind/connect) on ``port``."""
        if not self.net_mask:
            return
        rule = _NetPortAttr(access & self.net_mask, port)
        self._syscall(
            SYS_LANDLOCK_ADD_RULE,
            ctypes.c_int(self.fd),
            ctypes.c_int(RULE_NET_PORT),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )

    def restrict_self(self) -> None:
        """Enforce the ruleset (needs ``PR_SET_NO_NEW_PRIVS`` or CAP_SYS_ADMIN), then close it."""
        try:
            self._syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0))
        finally:
            os.close(self.fd)
