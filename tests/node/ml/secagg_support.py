"""A throwaway federation PKI for secure-aggregation tests: a root CA and one kit certificate per site."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from node.ml.secagg import SiteIdentity, TrustAnchor

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(signer, hashes.SHA256())
    )


class Pki:
    """A root CA that issues site identities (EC P-256: quick to make; the kits' RSA keys go the same path)."""

    def __init__(self, name: str = "root") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = _cert(name, self.key, name, self.key)
        self.anchor = TrustAnchor(self.cert)

    def identity(self, site: str, *, cn: str | None = None) -> SiteIdentity:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(cn or site, key, "root", self.key)
        return SiteIdentity(name=site, key=key, cert_pem=cert.public_bytes(serialization.Encoding.PEM))

    def write_kit(self, startup: Path, site: str) -> None:
        """``rootCA.pem``, ``client.crt``, ``client.key`` as a provisioned site kit holds them."""
        ident = self.identity(site)
        startup.mkdir(parents=True, exist_ok=True)
        (startup / "rootCA.pem").write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        (startup / "client.crt").write_bytes(ident.cert_pem)
        key = ident.key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (startup / "client.key").write_bytes(pem)


def counter_bytes(seed: str):  # type: ignore[no-untyped-def]  # a test helper returning a closure
    """A deterministic ``randbytes`` (SHA-256 in counter mode) so the tests' keys and masks are fixed."""
    state = {"i": 0}

    def randbytes(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(f"{seed}:{state['i']}".encode()).digest()
            state["i"] += 1
        return out[:n]

    return randbytes
