"""A site's identity for the key advertisement: the TLS client key and certificate of its startup kit.

Every kit holds the federation's root CA (``startup/rootCA.pem``) and the participant's own certificate and key
(``startup/client.crt`` / ``client.key`` for a site), issued by that CA with the site's name as common name. A site
signs its advertised public keys with its kit key; every peer checks, against the root CA in *its own* kit, that the
certificate was issued by the root CA, is valid now, and names the site that claims it, then checks the signature.
The coordinator relays the advertisements but holds no site key, so it cannot substitute one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from fednode.errors import ConfigError, SignatureError

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _sign(key: SigningKey, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
        return key.sign(data, pss, hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    return key.sign(data)


def _verify(cert: x509.Certificate, signature: bytes, data: bytes) -> None:
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        public.verify(signature, data, pss, hashes.SHA256())
    elif isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, data)
    else:
        raise InvalidSignature("unsupported certificate key type")


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


@dataclass(frozen=True)
class SiteIdentity:
    """The site's name, its kit key and its kit certificate (PEM)."""

    name: str
    key: SigningKey
    cert_pem: bytes

    def sign(self, data: bytes) -> bytes:
        return _sign(self.key, data)

    @classmethod
    def from_kit(cls, name: str, startup: Path) -> SiteIdentity:
        """``startup/client.key`` and ``client.crt`` of a site's kit."""
        key_path, cert_path = startup / "client.key", startup / "client.crt"
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            cert_pem = cert_path.read_bytes()
            x509.load_pem_x509_certificate(cert_pem)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"{startup}: no usable client.key/client.crt for secure aggregation") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise ConfigError(f"{key_path}: unsupported key type for secure aggregation")
        return cls(name=name, key=key, cert_pem=cert_pem)


@dataclass(frozen=True)
class TrustAnchor:
    """The federation root CA from this participant's own kit."""

    root: x509.Certificate

    @classmethod
    def from_kit(cls, startup: Path) -> TrustAnchor:
        path = startup / "rootCA.pem"
        try:
            return cls(x509.load_pem_x509_certificate(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: no usable root CA for secure aggregation") from exc

    def verify(self, site: str, cert_pem: bytes, signature: bytes, data: bytes, now: datetime) -> None:
        """Raise :class:`SignatureError` unless ``cert_pem`` was issued by the root CA to ``site``, is valid at
        ``now``, and ``signature`` over ``data`` verifies with it."""
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise SignatureError(f"secure aggregation: {site}'s certificate is unreadable") from exc
        try:
            cert.verify_directly_issued_by(self.root)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise SignatureError(
                f"secure aggregation: {site}'s certificate is not issued by this kit's root CA"
            ) from exc
        if common_name(cert) != site:
            raise SignatureError(f"secure aggregation: the certificate offered for {site} names another participant")
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise SignatureError(f"secure aggregation: {site}'s certificate is not valid now")
        try:
            _verify(cert, signature, data)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise SignatureError(
                f"secure aggregation: {site}'s advertised keys do not carry its signature (substituted?)"
            ) from exc
