"""The startup kit's certificates: present, readable, issued by the kit's root CA, within their validity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from node.kit.doctor._report import Check, failed, passed, warned

WARN_DAYS = 30
"""A certificate with fewer days left than this is a warning: provisioning new kits takes the consortium time."""
REPROVISION = "ask the coordinator's operator for a new startup kit (`fednode provision`) and install it"


@dataclass(frozen=True)
class KitCert:
    """A certificate of a kit, as read."""

    path: Path
    cert: x509.Certificate

    @property
    def common_name(self) -> str:
        names = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else ""


def read_cert(path: Path) -> KitCert:
    """Read a PEM certificate; ``ValueError`` (with what is wrong) when it is missing or not one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: missing") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    try:
        return KitCert(path, x509.load_pem_x509_certificate(data))
    except ValueError:
        raise ValueError(f"{path}: not a PEM certificate") from None


def check_certificate(
    name: str, cert_path: Path, key_path: Path | None, ca_path: Path, *, now: datetime, warn_days: int = WARN_DAYS
) -> tuple[Check, KitCert | None]:
    """The certificate at ``cert_path``: issued by the root CA at ``ca_path``, its private key at ``key_path``
    belongs to it, valid at ``now`` (days left). Returns the check and the certificate (``None`` if unreadable)."""
    try:
        ca = read_cert(ca_path)
        cert = read_cert(cert_path)
    except ValueError as exc:
        return failed(name, str(exc), f"the startup kit is incomplete or damaged: {REPROVISION}"), None
    try:
        cert.cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        issuer = cert.cert.issuer.rfc4514_string()
        return failed(
            name,
            f"{cert_path.name} (issuer {issuer}) is not signed by the kit's root CA {ca.common_name!r}",
            "the certificate and rootCA.pem come from different provisionings: use one kit as written by "
            "`fednode provision`, never mix files of two kits",
        ), cert
    if key_path is not None:
        problem = _key_problem(key_path, cert.cert)
        if problem:
            return failed(name, problem, f"the kit's private key does not fit its certificate: {REPROVISION}"), cert
    return validity(name, cert, now=now, warn_days=warn_days), cert


def validity(name: str, cert: KitCert, *, now: datetime, warn_days: int = WARN_DAYS) -> Check:
    """Whether ``cert`` is valid at ``now``, and how many days it has left."""
    start, end = cert.cert.not_valid_before_utc, cert.cert.not_valid_after_utc
    what = f"{cert.path.name} (CN {cert.common_name!r})"
    if now < start:
        ahead = start - now
        return failed(
            name,
            f"{what} is not valid before {start:%Y-%m-%d %H:%M} UTC; this machine's clock says "
            f"{now:%Y-%m-%d %H:%M} UTC ({_span(ahead.total_seconds())} earlier)",
            "set this machine's clock right (NTP): its clock is behind the provisioning machine's",
        )
    if now >= end:
        return failed(
            name,
            f"{what} expired on {end:%Y-%m-%d} ({(now - end).days} days ago)",
            f"the certificate has expired: {REPROVISION}",
        )
    days = (end - now).days
    measured = f"{what} issued by the kit's root CA, valid until {end:%Y-%m-%d} ({days} days left)"
    if days < warn_days:
        return warned(name, measured, f"plan the renewal now: {REPROVISION} before {end:%Y-%m-%d}")
    return passed(name, measured)


def _key_problem(key_path: Path, cert: x509.Certificate) -> str:
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except FileNotFoundError:
        return f"{key_path}: missing"
    except OSError as exc:
        return f"{key_path}: cannot read it ({exc.strerror or type(exc).__name__})"
    except (ValueError, TypeError):
        return f"{key_path}: not an unencrypted PEM private key"
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*fmt) != cert.public_key().public_bytes(*fmt):
        return f"{key_path.name} is not the private key of {cert.subject.rfc4514_string()}"
    return ""


def _span(seconds: float) -> str:
    """``3 s``, ``4 min``, ``2.5 h``, ``3 days``: a duration a person reads at a glance."""
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"
