"""Throwaway certificates, startup kits and a real mutual-TLS server on 127.0.0.1 for the doctor's tests. Not a
test module.

The server speaks just enough of what a gRPC server does for the doctor: TLS 1.2+/1.3 with a required client
certificate and ALPN ``h2``, then it reads the HTTP/2 preface and answers with an empty SETTINGS frame."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.now(UTC)
SETTINGS_FRAME = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


@dataclass(frozen=True)
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _name(cn: str, org: str = "fednode-test") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def make_ca(cn: str = "fednode") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(
    ca: Issued, cn: str, *, server: bool = False, not_before: datetime | None = None, days: float = 300
) -> Issued:
    """A leaf certificate for ``cn`` signed by ``ca`` (SAN ``DNS:cn``), valid ``days`` from ``not_before``."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or NOW - timedelta(hours=1)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def write_site_kit(root: Path, ca: Issued, client: Issued, target: str, *, site: str = "site-a") -> Path:
    """A site startup kit as `fednode provision` lays it out (the files the doctor reads)."""
    startup = root / "startup"
    startup.mkdir(parents=True)
    (startup / "rootCA.pem").write_bytes(ca.cert_pem())
    (startup / "client.crt").write_bytes(client.cert_pem())
    (startup / "client.key").write_bytes(client.key_pem())
    doc = {
        "format_version": 2,
        "servers": [{"name": "fednode", "service": {"target": target, "scheme": "grpc"}, "identity": "localhost"}],
        "client": {"ssl_cert": "client.crt", "ssl_private_key": "client.key", "fqsn": site},
    }
    (startup / "fed_client.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


def write_server_kit(root: Path, ca: Issued, server: Issued, target: str, *, sites: tuple[str, ...] = ()) -> Path:
    """A server startup kit (``fed_server.json``, ``server.crt``/``.key``, ``rootCA.pem``)."""
    startup = root / "startup"
    startup.mkdir(parents=True)
    (startup / "rootCA.pem").write_bytes(ca.cert_pem())
    (startup / "server.crt").write_bytes(server.cert_pem())
    (startup / "server.key").write_bytes(server.key_pem())
    doc = {"format_version": 2, "servers": [{"name": "fednode", "service": {"target": target, "scheme": "grpc"}}]}
    (startup / "fed_server.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


def write_admin_kit(root: Path, ca: Issued, admin: Issued) -> Path:
    startup = root / "startup"
    startup.mkdir(parents=True)
    (startup / "rootCA.pem").write_bytes(ca.cert_pem())
    (startup / "client.crt").write_bytes(admin.cert_pem())
    (startup / "client.key").write_bytes(admin.key_pem())
    (startup / "fed_admin.json").write_text(json.dumps({"admin": {"username": admin_name(admin)}}), encoding="utf-8")
    return root


def admin_name(admin: Issued) -> str:
    return str(admin.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tls_server(tmp: Path, server: Issued, trusts: Issued, *, speak: bool = True) -> Iterator[int]:
    """A mutual-TLS server on 127.0.0.1 presenting ``server`` and accepting clients signed by ``trusts``; yields
    its port. ``speak=False``: it accepts TCP and never says a word (a TLS handshake that times out)."""
    cert, key, ca = tmp / "srv.crt", tmp / "srv.key", tmp / "srv-ca.pem"
    cert.write_bytes(server.cert_pem())
    key.write_bytes(server.key_pem())
    ca.write_bytes(trusts.cert_pem())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(cafile=str(ca))
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not speak:
                held.append(conn)
                continue
            conn.settimeout(5)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    preface = b""
                    while len(preface) < 33:
                        chunk = tls.recv(33 - len(preface))
                        if not chunk:
                            break
                        preface += chunk
                    tls.sendall(SETTINGS_FRAME)
            except (ssl.SSLError, OSError):
                conn.close()  # refused: the alert went out with the failed handshake

    thread = threading.Thread(target=serve, name="doctor-tls-server", daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in held:
            conn.close()
