"""TOTP second factor for approvers (RFC 6238, 30-s steps, 6 digits) with pyotp.

Each approver's base32 secret lies in its own file under ``$FEDNODE_HOME/keys/totp/`` (mode 0600), named by a
hash of the normalised approver name. :meth:`FileTotpVerifier.verify` returns the matched time step so the
approval service can refuse a replayed code (it stores used steps in state.db).
"""

from __future__ import annotations

import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import pyotp

from fednode.errors import ConfigError

STEP_S = 30
VALID_WINDOW = 1  # accept the previous and the next step too (clock drift)


def normalise_name(name: str) -> str:
    """Approver names compare case-insensitively with whitespace collapsed (as the policy model does)."""
    return " ".join(name.lower().split())


class TotpVerifier(Protocol):
    """What the approval service needs: check a code, return its time step (None if wrong)."""

    def verify(self, approver: str, code: str, at: datetime) -> int | None: ...


@dataclass(frozen=True)
class Enrollment:
    """What an approver loads into an authenticator app (shown once)."""

    approver: str
    secret: str
    uri: str


class FileTotpVerifier:
    """TOTP secrets in files under ``folder``; enrol, then verify codes."""

    def __init__(self, folder: Path, *, issuer: str = "fednode") -> None:
        self._folder = folder
        self._issuer = issuer

    def _path(self, approver: str) -> Path:
        digest = hashlib.sha256(normalise_name(approver).encode("utf-8")).hexdigest()[:32]
        return self._folder / f"{digest}.b32"

    def is_enrolled(self, approver: str) -> bool:
        return self._path(approver).is_file()

    def enroll(self, approver: str, *, site: str, replace: bool = False) -> Enrollment:
        """Create an approver's secret (refused if one exists, unless ``replace``)."""
        path = self._path(approver)
        if path.exists() and not replace:
            raise ConfigError(f"approver {approver!r} is already enrolled for TOTP (use replace to rotate)")
        self._folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = pyotp.random_base32()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secret + "\n")
        uri = pyotp.TOTP(secret).provisioning_uri(name=f"{approver}@{site}", issuer_name=self._issuer)
        return Enrollment(approver=approver, secret=secret, uri=uri)

    def install(self, approver: str, secret: str) -> bool:
        """Install an approver's existing secret (from IT's secrets file); True when it was written.

        The same secret again changes nothing; a different one for an enrolled approver is refused, so a restart
        never silently rotates a second factor (rotate with ``enroll(..., replace=True)``).
        """
        cleaned = secret.strip().replace(" ", "").upper()
        if len(cleaned) < 16:
            raise ConfigError(f"TOTP secret for approver {approver!r} is too short (at least 16 base32 characters)")
        try:
            pyotp.TOTP(cleaned).now()
        except (ValueError, TypeError, binascii.Error):
            raise ConfigError(f"TOTP secret for approver {approver!r} is not valid base32") from None
        path = self._path(approver)
        if path.is_file():
            if path.read_text(encoding="ascii").strip() == cleaned:
                return False
            raise ConfigError(f"approver {approver!r} already has a different TOTP secret; rotate it deliberately")
        self._folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(cleaned + "\n")
        return True

    def verify(self, approver: str, code: str, at: datetime) -> int | None:
        path = self._path(approver)
        if not path.is_file():
            return None
        if stat.S_IMODE(path.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path}: TOTP secret is accessible by group or others; chmod 600")
        return verify_code(path.read_text(encoding="ascii").strip(), code, at)


def verify_code(secret: str, code: str, at: datetime) -> int | None:
    """The time step ``code`` is valid for at ``at`` (within ±1 step), or None."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    step = int(at.timestamp()) // STEP_S
    for candidate in range(step - VALID_WINDOW, step + VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(totp.at(candidate * STEP_S), code):
            return candidate
    return None
