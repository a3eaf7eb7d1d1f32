"""Approvers' own keys: OpenSSH public keys enrolled in the site policy, the statement an approver signs, and the
OpenSSH SSHSIG signature over it (what ``ssh-keygen -Y sign -n fednode-approval`` or an SSH agent makes).

The statement binds one decision to one job as this site saw it::

    fednode-approval-v1
    job: <job id>
    app-digest: <sha256 of the app>
    meta-digest: <sha256 of the pinned job meta>
    site: <site name>
    decision: approve
    time: 2026-12-05T10:00:00Z

SSHSIG (OpenSSH ``PROTOCOL.sshsig``): the armored blob holds ``"SSHSIG"``, version 1, the signer's public key, the
namespace, a reserved string, the hash algorithm and the signature; the key signs ``"SSHSIG" || namespace ||
reserved || hash_algorithm || H(message)``. FIDO2 ``sk-`` keys sign ``sha256(application) || flags || counter ||
sha256(that)``, and the user-presence flag must be set. Parsing is ours (a byte format); every signature check
is ``cryptography``'s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

NAMESPACE = "fednode-approval"
"""The SSHSIG namespace of an approval (``ssh-keygen -Y sign -n fednode-approval``)."""
HASH_ALGORITHM = "sha512"
STATEMENT_HEADER = "fednode-approval-v1"
ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
ARMOR_END = "-----END SSH SIGNATURE-----"
MAX_ARMORED = 16_384
"""Largest armored signature accepted (an RSA-4096 one is under 2 KiB)."""

KEY_TYPES = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa",
)
"""The public key types an approver may enrol (RSA signs with rsa-sha2-256 or rsa-sha2-512, never SHA-1)."""
_SK_USER_PRESENT = 0x01


class SshsigError(ValueError):
    """A key or signature is malformed, of the wrong kind, or does not verify (the message says which)."""


class _Reader:
    """SSH wire format: uint32-length-prefixed strings."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def raw(self, n: int) -> bytes:
        if self._at + n > len(self._data):
            raise SshsigError("truncated")
        out = self._data[self._at : self._at + n]
        self._at += n
        return out

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.raw(4))[0])

    def string(self) -> bytes:
        return self.raw(self.uint32())

    def byte(self) -> int:
        return self.raw(1)[0]

    def done(self) -> bool:
        return self._at == len(self._data)


def _string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


@dataclass(frozen=True)
class ApproverKey:
    """One enrolled OpenSSH public key: its type, wire blob and comment."""

    key_type: str
    blob: bytes
    comment: str = ""

    @classmethod
    def parse(cls, text: str) -> ApproverKey:
        """From an ``authorized_keys``-style line (``type base64 [comment]``); :class:`SshsigError` if not."""
        parts = text.strip().split(None, 2)
        if len(parts) < 2:
            raise SshsigError("an OpenSSH public key is 'type base64 [comment]'")
        if parts[0] not in KEY_TYPES:
            raise SshsigError(f"key type {parts[0]!r} is not accepted; use one of {', '.join(KEY_TYPES)}")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise SshsigError("the public key is not valid base64") from None
        key = cls(parts[0], blob, parts[2].strip() if len(parts) > 2 else "")
        if _Reader(blob).string().decode("ascii", "replace") != key.key_type:
            raise SshsigError("the public key's type does not match its blob")
        key.verifier()  # loads with cryptography: refuses a malformed point or modulus
        return key

    @classmethod
    def from_blob(cls, blob: bytes) -> ApproverKey:
        try:
            key_type = _Reader(blob).string().decode("ascii")
        except UnicodeDecodeError:
            raise SshsigError("the signing key's type is not readable") from None
        if key_type not in KEY_TYPES:
            raise SshsigError(f"the signing key's type {key_type!r} is not accepted")
        return cls(key_type, blob)

    @property
    def openssh(self) -> str:
        """``type base64`` (no comment): the form compared and stored."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"

    @property
    def fingerprint(self) -> str:
        """OpenSSH's fingerprint, ``SHA256:<base64 without padding>`` (as ``ssh-keygen -l`` prints)."""
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode("ascii").rstrip("=")

    @property
    def is_sk(self) -> bool:
        return self.key_type.startswith("sk-")

    @property
    def application(self) -> bytes:
        """A FIDO2 key's application string (``ssh:`` by default); empty for other keys."""
        if not self.is_sk:
            return b""
        r = _Reader(self.blob)
        r.string()  # type
        if self.key_type.startswith("sk-ecdsa"):
            r.string()  # curve
        r.string()  # public key
        return r.string()

    def verifier(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
        """The key as a ``cryptography`` public key (sk keys: the underlying Ed25519 or P-256 key)."""
        line = self.openssh.encode("ascii")
        try:
            if self.is_sk:
                loaded = serialization.load_ssh_public_identity(line)
            else:
                loaded = serialization.load_ssh_public_key(line)
        except (ValueError, UnsupportedAlgorithm):
            raise SshsigError(f"the {self.key_type} public key is malformed") from None
        if isinstance(loaded, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
            return loaded
        if isinstance(loaded, ec.EllipticCurvePublicKey) and isinstance(loaded.curve, ec.SECP256R1):
            return loaded
        raise SshsigError(f"the {self.key_type} public key is not of an accepted kind")


@dataclass(frozen=True)
class ApprovalStatement:
    """What an approver signs: one decision on one job (its app and pinned meta) at one site, at one time."""

    job_id: str
    app_digest: str
    meta_digest: str
    site: str
    decision: str
    at: datetime

    def to_bytes(self) -> bytes:
        """The canonical statement: UTF-8, one ``field: value`` a line, ``\\n`` line ends, UTC to the second."""
        at = self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines = [
            STATEMENT_HEADER,
            f"job: {self.job_id}",
            f"app-digest: {self.app_digest}",
            f"meta-digest: {self.meta_digest}",
            f"site: {self.site}",
            f"decision: {self.decision}",
            f"time: {at}",
        ]
        return ("\n".join(lines) + "\n").encode("utf-8")

    @staticmethod
    def signed_time(statement: bytes) -> datetime:
        """The ``time:`` of a statement (the rest is rebuilt from the site's own values and compared)."""
        try:
            text = statement.decode("utf-8")
        except UnicodeDecodeError:
            raise SshsigError("the statement is not UTF-8 text") from None
        lines = text.split("\n")
        if not lines or lines[0] != STATEMENT_HEADER:
            raise SshsigError(f"the statement does not start with {STATEMENT_HEADER!r}")
        for line in lines:
            if line.startswith("time: "):
                try:
                    return datetime.strptime(line[6:], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                except ValueError:
                    raise SshsigError("the statement's time is not YYYY-MM-DDTHH:MM:SSZ") from None
        raise SshsigError("the statement has no time")


def signed_data(message: bytes, namespace: str = NAMESPACE) -> bytes:
    """The bytes an SSHSIG signature covers (what an agent is asked to sign)."""
    return (
        b"SSHSIG"
        + _string(namespace.encode("ascii"))
        + _string(b"")
        + _string(HASH_ALGORITHM.encode("ascii"))
        + _string(hashlib.sha512(message).digest())
    )


def armor(key_blob: bytes, signature_blob: bytes, namespace: str = NAMESPACE) -> str:
    """An armored SSHSIG from the signer's key blob and a signature blob (as an SSH agent returns it)."""
    blob = (
        b"SSHSIG"
        + struct.pack(">I", 1)
        + _string(key_blob)
        + _string(namespace.encode("ascii"))
        + _string(b"")
        + _string(HASH_ALGORITHM.encode("ascii"))
        + _string(signature_blob)
    )
    body = base64.b64encode(blob).decode("ascii")
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END]) + "\n"


@dataclass(frozen=True)
class Sshsig:
    """A parsed SSHSIG: who signed (their key), in which namespace, and the signature blob."""

    key: ApproverKey
    namespace: str
    hash_algorithm: str
    signature: bytes

    @classmethod
    def parse(cls, armored: str) -> Sshsig:
        """From the armored text; :class:`SshsigError` names what is wrong."""
        if len(armored) > MAX_ARMORED:
            raise SshsigError("the signature is too long")
        text = armored.strip()
        if not text.startswith(ARMOR_BEGIN) or not text.endswith(ARMOR_END):
            raise SshsigError(f"not an SSH signature (no {ARMOR_BEGIN} ... {ARMOR_END})")
        body = "".join(text[len(ARMOR_BEGIN) : -len(ARMOR_END)].split())
        try:
            blob = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise SshsigError("the SSH signature is not valid base64") from None
        r = _Reader(blob)
        if r.raw(6) != b"SSHSIG":
            raise SshsigError("the SSH signature has no SSHSIG magic")
        if r.uint32() != 1:
            raise SshsigError("the SSH signature is not version 1")
        key = ApproverKey.from_blob(r.string())
        namespace, _reserved, hash_alg, signature = r.string(), r.string(), r.string(), r.string()
        if not r.done():
            raise SshsigError("the SSH signature has trailing bytes")
        return cls(key, namespace.decode("ascii", "replace"), hash_alg.decode("ascii", "replace"), signature)

    def verify(self, message: bytes, enrolled: ApproverKey, namespace: str = NAMESPACE) -> None:
        """Raise :class:`SshsigError` unless this is a valid signature by ``enrolled`` over ``message``."""
        if self.namespace != namespace:
            raise SshsigError(f"the signature's namespace is {self.namespace!r}, not {namespace!r}")
        if self.hash_algorithm != HASH_ALGORITHM:
            raise SshsigError(f"the signature's hash is {self.hash_algorithm!r}, not {HASH_ALGORITHM!r}")
        if self.key.blob != enrolled.blob:
            raise SshsigError("the signature was made by another key")
        _verify_raw(enrolled, self.signature, signed_data(message, namespace))


def _verify_raw(key: ApproverKey, signature_blob: bytes, data: bytes) -> None:
    r = _Reader(signature_blob)
    try:
        sig_type = r.string().decode("ascii")
    except UnicodeDecodeError:
        raise SshsigError("the signature type is not readable") from None
    raw = r.string()
    verifier = key.verifier()
    if key.is_sk:
        if sig_type != key.key_type:
            raise SshsigError(f"a {sig_type} signature from a {key.key_type} key")
        flags, counter = r.byte(), r.uint32()
        if not flags & _SK_USER_PRESENT:
            raise SshsigError("the security key did not confirm the user's presence")
        data = (
            hashlib.sha256(key.application).digest()
            + bytes([flags])
            + struct.pack(">I", counter)
            + hashlib.sha256(data).digest()
        )
    if not r.done():
        raise SshsigError("the signature has trailing bytes")
    try:
        if isinstance(verifier, ed25519.Ed25519PublicKey):
            if not key.is_sk and sig_type != "ssh-ed25519":
                raise SshsigError(f"a {sig_type} signature from a {key.key_type} key")
            verifier.verify(raw, data)
        elif isinstance(verifier, ec.EllipticCurvePublicKey):
            if not key.is_sk and sig_type != "ecdsa-sha2-nistp256":
                raise SshsigError(f"a {sig_type} signature from a {key.key_type} key")
            rs = _Reader(raw)
            der = encode_dss_signature(_mpint(rs.string()), _mpint(rs.string()))
            verifier.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            algorithm = {"rsa-sha2-256": hashes.SHA256(), "rsa-sha2-512": hashes.SHA512()}.get(sig_type)
            if algorithm is None:
                raise SshsigError(f"RSA signatures must be rsa-sha2-256 or rsa-sha2-512, not {sig_type!r}")
            verifier.verify(raw, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise SshsigError("the signature does not verify") from None


def _mpint(value: bytes) -> int:
    return int.from_bytes(value, "big", signed=True)


@dataclass(frozen=True)
class SignedApproval:
    """What an approver hands the site: the exact statement bytes and an armored SSHSIG over them."""

    statement: bytes
    signature: str

    @property
    def signature_sha256(self) -> str:
        """The signature's sha256 (hex): what the audit record keeps (the signature itself is in state.db)."""
        return hashlib.sha256(self.signature.encode("ascii", "replace")).hexdigest()


def sign_ed25519(private_key: ed25519.Ed25519PrivateKey, message: bytes, namespace: str = NAMESPACE) -> str:
    """An armored SSHSIG over ``message`` by an Ed25519 key, as ``ssh-keygen -Y sign -n NAMESPACE`` makes it.

    For the approver's side only (the demo's scripted approver, tests): a site never holds an approver's key.
    """
    public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_blob = _string(b"ssh-ed25519") + _string(public)
    signature = _string(b"ssh-ed25519") + _string(private_key.sign(signed_data(message, namespace)))
    return armor(key_blob, signature, namespace)
