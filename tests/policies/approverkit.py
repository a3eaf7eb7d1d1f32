"""Approvers' keys for tests: real OpenSSH keys and signatures (``ssh-keygen``), a real ``ssh-agent`` on a socket
under the test's folder, and FIDO2 ``sk-`` signatures built with ``cryptography`` (no security key needed)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from policies.approver_keys import ApproverKey, armor, signed_data

HAVE_OPENSSH = all(shutil.which(tool) for tool in ("ssh-keygen", "ssh-agent", "ssh-add"))
needs_openssh = pytest.mark.skipif(not HAVE_OPENSSH, reason="OpenSSH (ssh-keygen, ssh-agent, ssh-add) not installed")


def make_key(folder: Path, name: str, kind: str = "ed25519") -> tuple[Path, ApproverKey]:
    """A new OpenSSH key pair (no passphrase) in ``folder``; the private key's path and the public key."""
    path = folder / f"{name}_{kind}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{name}@laptop", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path, ApproverKey.parse(Path(f"{path}.pub").read_text(encoding="ascii"))


def keygen_sign(private_key: Path, message: bytes, folder: Path, namespace: str = "fednode-approval") -> str:
    """What ``ssh-keygen -Y sign -n NAMESPACE -f KEY FILE`` writes to FILE.sig, for ``message``."""
    statement = folder / "statement.txt"
    statement.write_bytes(message)
    signature = statement.with_name("statement.txt.sig")
    signature.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(private_key), str(statement)],
        check=True,
        capture_output=True,
    )
    return signature.read_text(encoding="ascii")


@contextmanager
def running_agent(folder: Path, *keys: Path) -> Iterator[Path]:
    """A real ``ssh-agent`` on ``folder/agent.sock`` holding ``keys``; stopped (by its pid) afterwards."""
    sock = folder / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(1000):  # the agent creates its socket, then listens
            if sock.exists() or proc.poll() is not None:
                break
            time.sleep(0.01)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        for key in keys:
            subprocess.run(["ssh-add", "-q", str(key)], check=True, env=env, capture_output=True)
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def _string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def _mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return _string(raw)


class SkKey:
    """A FIDO2 security key stand-in: an ``sk-ssh-ed25519`` or ``sk-ecdsa-sha2-nistp256`` key that signs as one."""

    def __init__(self, kind: str = "ed25519", application: bytes = b"ssh:") -> None:
        self.kind = kind
        self.application = application
        if kind == "ed25519":
            self._ed = ed25519.Ed25519PrivateKey.generate()
            raw = self._ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.key_type = "sk-ssh-ed25519@openssh.com"
            blob = _string(self.key_type.encode()) + _string(raw) + _string(application)
        else:
            self._ec = ec.generate_private_key(ec.SECP256R1())
            point = self._ec.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            self.key_type = "sk-ecdsa-sha2-nistp256@openssh.com"
            blob = _string(self.key_type.encode()) + _string(b"nistp256") + _string(point) + _string(application)
        self.public = ApproverKey(self.key_type, blob, "yubikey")

    def sign(self, message: bytes, *, flags: int = 0x01, counter: int = 7) -> str:
        """An armored SSHSIG as ``ssh-keygen -Y sign`` with this security key would make it."""
        to_sign = (
            hashlib.sha256(self.application).digest()
            + bytes([flags])
            + struct.pack(">I", counter)
            + hashlib.sha256(signed_data(message)).digest()
        )
        if self.kind == "ed25519":
            inner = _string(self._ed.sign(to_sign))
        else:
            r, s = decode_dss_signature(self._ec.sign(to_sign, ec.ECDSA(hashes.SHA256())))
            inner = _string(_mpint(r) + _mpint(s))
        blob = _string(self.key_type.encode()) + inner + bytes([flags]) + struct.pack(">I", counter)
        return armor(self.public.blob, blob)
