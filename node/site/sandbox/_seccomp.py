"""A small seccomp filter: only AF_UNIX sockets and plain TCP stream sockets may be created.

Landlock (ABI <= 7) governs TCP bind/connect only; UDP (DNS tunnelling included), raw, packet, netlink,
SCTP and MPTCP sockets would pass it. This filter refuses creating them (``EACCES``), and io_uring, whose
socket operations would not go through the ``socket`` syscall. Needs ``PR_SET_NO_NEW_PRIVS`` first.
"""

from __future__ import annotations

import ctypes
import errno
import platform

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

_ARCH = {
    # machine: (AUDIT_ARCH_*, socket nr, io_uring_setup nr, extra syscall-number bit to refuse (x32))
    "x86_64": (0xC000003E, 41, 425, 0x40000000),
    "aarch64": (0xC00000B7, 198, 425, 0),
}

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_AND_K = 0x54
_RET_K = 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _program() -> list[tuple[int, int, int, int]]:
    arch, nr_socket, nr_uring, x32 = _ARCH[platform.machine()]
    deny = RET_ERRNO | errno.EACCES
    # Labels are resolved by hand: jt/jf are offsets to the next instruction.
    prog: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # 0 A = arch
        (_JEQ_K, 1, 0, arch),  # 1 arch ok -> 3
        (_RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),  # 2 foreign arch
        (_LD_W_ABS, 0, 0, 0),  # 3 A = nr
    ]
    if x32:
        prog.append((_JGE_K, 0, 1, x32))  # 4 x32 syscall -> deny
        prog.append((_RET_K, 0, 0, RET_ERRNO | errno.ENOSYS))  # 5
    prog += [
        (_JEQ_K, 0, 1, nr_uring),  # io_uring_setup -> deny
        (_RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),
        (_JEQ_K, 1, 0, nr_socket),  # socket -> check args
        (_RET_K, 0, 0, RET_ALLOW),
        (_LD_W_ABS, 0, 0, 16),  # A = domain
        (_JEQ_K, 0, 1, 1),  # AF_UNIX -> allow
        (_RET_K, 0, 0, RET_ALLOW),
        (_JEQ_K, 2, 0, 2),  # AF_INET -> type check
        (_JEQ_K, 1, 0, 10),  # AF_INET6 -> type check
        (_RET_K, 0, 0, deny),  # any other family
        (_LD_W_ABS, 0, 0, 24),  # A = type
        (_AND_K, 0, 0, 0xF),  # SOCK_TYPE_MASK
        (_JEQ_K, 1, 0, 1),  # SOCK_STREAM -> protocol check
        (_RET_K, 0, 0, deny),
        (_LD_W_ABS, 0, 0, 32),  # A = protocol
        (_JEQ_K, 1, 0, 0),  # 0 -> allow
        (_JEQ_K, 0, 1, 6),  # IPPROTO_TCP -> allow
        (_RET_K, 0, 0, RET_ALLOW),
        (_RET_K, 0, 0, deny),
    ]
    return prog


def supported() -> bool:
    """Whether this machine's architecture has a filter here."""
    return platform.machine() in _ARCH


def install() -> None:
    """Install the filter on this thread (inherited across fork and execve). Raises OSError on failure."""
    prog = _program()
    arr = (_SockFilter * len(prog))(*(_SockFilter(c, jt, jf, k) for c, jt, jf, k in prog))
    fprog = _SockFprog(len(prog), arr)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    # seccomp(2) with SPEC_ALLOW: on kernels whose spec_store_bypass_disable is "seccomp" (the default before
    # 5.16) a filter would otherwise turn on SSBD and slow the job's numerics; SSBD protects a process from
    # itself, which is not what this filter is for.
    res = libc.syscall(
        ctypes.c_long(SYS_SECCOMP[platform.machine()]),
        ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
        ctypes.c_uint(SECCOMP_FILTER_FLAG_SPEC_ALLOW),
        ctypes.byref(fprog),
    )
    if res == 0:
        return
    libc.prctl.restype = ctypes.c_int
    res = libc.prctl(
        ctypes.c_int(PR_SET_SECCOMP),
        ctypes.c_ulong(SECCOMP_MODE_FILTER),
        ctypes.byref(fprog),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    if res != 0:
        err = ctypes.get_errno()
        raise OSError(err, "seccomp: " + errno.errorcode.get(err, str(err)))
