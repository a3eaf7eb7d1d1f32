"""The site's Ed25519 signing key: by default ``$FEDNODE_HOME/keys/site.ed25519.pem`` (PKCS#8 PEM, mode 0600;
the policy's ``site.signing_key`` may name another file) with its public key beside it (``.pub``,
SubjectPublicKeyInfo PEM, shareable). Signs audit checkpoints and approval receipts."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fednode.errors import BadInputError, ConfigError, NotFoundError, SignatureError
from fednode.inputs import read_input_bytes

log = logging.getLogger("fednode.policies.keys")

DEFAULT_KEY_NAME = "site.ed25519.pem"


def key_file(path: Path) -> Path:
    """The private key file ``path`` means: itself when it names a ``.pem``/``.key`` file, else
    ``path/site.ed25519.pem`` (``path`` is a keys folder)."""
    if path.suffix in (".pem", ".key") and not path.is_dir():
        return path
    return path / DEFAULT_KEY_NAME


def public_path_for(private_path: Path) -> Path:
    """Where the public key of ``private_path`` lies: the same name with ``.pub``."""
    return private_path.with_suffix(".pub")


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short, stable fingerprint of a public key: sha256 of its raw bytes, first 16 hex digits."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM text."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """Parse a PEM public key; anything but Ed25519 is refused."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SignatureError("public key: not a valid PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("public key: not an Ed25519 key")
    return key


def verify_signature(public_key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    """True when ``signature_b64`` (base64) is ``public_key``'s signature of ``message``."""
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SiteKey:
    """The site's signing key. ``sign`` returns base64 text."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    @property
    def public_pem(self) -> str:
        return public_key_pem(self.public_key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")

    @classmethod
    def generate(cls) -> SiteKey:
        """A fresh in-memory key (tests, benchmarks)."""
        return cls(Ed25519PrivateKey.generate())


def load_or_create_site_key(path: Path) -> SiteKey:
    """Load the key at ``path`` (a key file, or a keys folder: see :func:`key_file`), creating it (0600) and its
    ``.pub`` on first use (:func:`ensure_site_key`)."""
    return ensure_site_key(path)[0]


def ensure_site_key(path: Path) -> tuple[SiteKey, bool]:
    """The key at ``path`` and whether this call created it (0600, with its ``.pub``).

    Safe when two processes start at once: the key is written to a temp file and hard-linked into place; the
    loser loads the winner's key. A private key readable by group or others is refused, as ssh does.
    """
    private_path = key_file(path)
    keys_dir = private_path.parent
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = False
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # write a private temp file, then link it into place: atomic, and fails if another process won the race
        tmp = keys_dir / f".{private_path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, private_path)
        except FileExistsError:
            pass  # another process won the race; load its key below
        else:
            created = True
            log.info("keys.site_key_created key_id=%s", key_id(key.public_key()))
        finally:
            tmp.unlink()
    site_key = _load_private(private_path)
    public_path = public_path_for(private_path)
    if not public_path.exists() or public_path.read_text(encoding="ascii") != site_key.public_pem:
        public_path.write_text(site_key.public_pem, encoding="ascii")
    return site_key, created


def load_site_key(path: Path) -> SiteKey:
    """The existing key at ``path`` (see :func:`key_file`); creates nothing. A missing key is
    :class:`~fednode.errors.NotFoundError` (``fednode site init`` or the site's boot creates it)."""
    private_path = key_file(path)
    if not private_path.is_file():
        raise NotFoundError(
            f"{private_path}: no site signing key here; `fednode site init` (or the site's boot) creates it"
        )
    return _load_private(private_path)


def read_public_key_file(path: Path, *, option: str = "--public-key") -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file a person named with ``option``: a missing, unreadable, binary or
    non-Ed25519 file is :class:`~fednode.errors.BadInputError` (exit 4) naming the option and the file."""
    where = f"{option} {path}"
    data = read_input_bytes(path, where=where)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise BadInputError("not a PEM public key", file=where) from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadInputError("not an Ed25519 public key", file=where)
    return key


def load_site_public_key(path: Path) -> Ed25519PublicKey:
    """The site's public key, from the ``.pub`` beside the key file ``path`` means (no private key needed)."""
    public = public_path_for(key_file(path))
    if not public.is_file():
        raise ConfigError(f"{public}: no site public key (`fednode site init` creates the site key and its .pub)")
    return load_public_key(public.read_bytes())


def _load_private(path: Path) -> SiteKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: site key is accessible by group or others (mode {stat.S_IMODE(mode):o}); chmod 600")
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a valid PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 private key")
    return SiteKey(key)
