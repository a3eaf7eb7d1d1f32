"""Network probes both sides use: DNS, TCP to the FL port, the mutual-TLS handshake gRPC makes.

Every probe is bounded by ``timeout`` seconds and tells its failures apart the way a firewall ticket needs them:
a refused connection (nothing listens: the service is down or the port is wrong) from a timed-out one (packets
dropped: a firewall), an unknown name from a DNS server that does not answer, and a TLS handshake the server
refused (and with which alert) from one that never completed.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from node.kit.doctor._report import Check, failed, passed, warned

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""What an HTTP/2 client (gRPC) sends first: the connection preface and an empty SETTINGS frame; a gRPC server
answers with its own SETTINGS frame (type 4)."""
_SETTINGS = 4


@dataclass(frozen=True)
class Target:
    """Where the FL port is: ``host:port`` as the kit names it."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Target:
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{text!r} is not host:port")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_dns(name: str, host: str, *, timeout: float) -> tuple[Check, list[str]]:
    """Resolve ``host`` (bounded: ``getaddrinfo`` has no timeout of its own, so it runs in a daemon thread)."""
    if is_address(host):
        return passed(name, f"{host} is an IP address: no DNS lookup needed"), [host]
    found: list[str] = []
    problem: list[BaseException] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            found.extend(dict.fromkeys(str(info[4][0]) for info in infos))
        except OSError as exc:
            problem.append(exc)

    started = time.perf_counter()
    worker = threading.Thread(target=lookup, name="doctor-dns", daemon=True)
    worker.start()
    worker.join(timeout)
    took = time.perf_counter() - started
    if worker.is_alive():
        return failed(
            name,
            f"DNS lookup of {host} had no answer within {timeout:g} s",
            "this machine's DNS server does not answer: check /etc/resolv.conf (in a container: the Docker "
            "daemon's DNS settings) with your network team",
        ), []
    if problem:
        exc = problem[0]
        why = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        return failed(
            name,
            f"{host} does not resolve ({why}) after {_ms(took)}",
            f"check the coordinator's host name in the startup kit ({host}) with the consortium; ask your network "
            "team to make it resolvable here (internal DNS or an /etc/hosts entry; in a container: extra_hosts)",
        ), []
    return passed(name, f"{host} -> {', '.join(found)} in {_ms(took)}"), found


def check_tcp(name: str, addresses: list[str], port: int, *, host: str, timeout: float) -> tuple[Check, str | None]:
    """Open a TCP connection to ``port`` on the first address that answers. Returns the check and that address."""
    outcomes: list[str] = []
    verdict: Check | None = None
    for address in addresses:
        started = time.perf_counter()
        try:
            with socket.create_connection((address, port), timeout=timeout):
                took = time.perf_counter() - started
            return passed(name, f"TCP {_hostport(address, port)} connected in {_ms(took)}"), address
        except TimeoutError:
            outcomes.append(f"TCP {_hostport(address, port)} timed out after {timeout:g} s")
            verdict = verdict or failed(
                name,
                "",
                f"packets to {host}:{port} are dropped (a firewall, or the wrong address): ask your network team "
                f"to allow outbound TCP from this machine to {host} port {port}; the coordinator's side must "
                "accept it too",
            )
        except ConnectionRefusedError:
            took = time.perf_counter() - started
            outcomes.append(f"TCP {_hostport(address, port)} refused in {_ms(took)}")
            verdict = verdict or failed(
                name,
                "",
                f"the machine answered but nothing listens on port {port}: the coordinator is not running, or the "
                "port in the startup kit is wrong, or a firewall actively rejects it; ask the coordinator's "
                "operator",
            )
        except OSError as exc:
            took = time.perf_counter() - started
            why = errno.errorcode.get(exc.errno or 0, "") if exc.errno else type(exc).__name__
            reason = exc.strerror or str(exc)
            outcomes.append(f"TCP {_hostport(address, port)} failed in {_ms(took)}: {reason} ({why})")
            verdict = verdict or failed(
                name,
                "",
                f"this machine has no route to {host}: ask your network team (routing, VPN, outbound firewall)",
            )
    if verdict is None:
        return failed(name, "no address to connect to", "see the dns check"), None
    return failed(name, "; ".join(outcomes), verdict.remedy), None


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


@dataclass(frozen=True)
class TlsResult:
    """The handshake's check, the server's certificate when one was received, and the protocol spoken."""

    check: Check
    peer: x509.Certificate | None = None


@dataclass(frozen=True)
class ClientCredentials:
    """The kit files a TLS client presents: its certificate and key, and the root CA it trusts."""

    ca: Path
    cert: Path
    key: Path


_ALERTS = {
    "TLSV1_ALERT_UNKNOWN_CA": (
        "the coordinator does not trust this kit's certificate (alert: unknown CA)",
        "this startup kit is from another provisioning than the coordinator's: install the kit the coordinator's "
        "operator provisioned for this site",
    ),
    "SSLV3_ALERT_BAD_CERTIFICATE": (
        "the coordinator refused this kit's certificate (alert: bad certificate)",
        "the kit's certificate is not one the coordinator accepts (another provisioning, or damaged): install "
        "the kit provisioned for this site",
    ),
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        "the coordinator wanted a client certificate and got none (alert: certificate required)",
        "the kit's client.crt/client.key were not presented: check the kit is complete",
    ),
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": (
        "the coordinator says this kit's certificate has expired (alert: certificate expired)",
        "ask the coordinator's operator for a new startup kit; if it is not expired here, the coordinator's "
        "clock is wrong",
    ),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": (
        "the coordinator could not check this kit's certificate (alert: certificate unknown)",
        "install the kit provisioned for this site; if it is, the coordinator's clock may be wrong",
    ),
    "WRONG_VERSION_NUMBER": (
        "what answers on this port does not speak TLS",
        "another service (or a proxy) answers on this port: check the host and port in the kit with the "
        "coordinator's operator, and that no transparent proxy sits in between",
    ),
    "NO_APPLICATION_PROTOCOL": (
        "the server does not speak HTTP/2 (ALPN h2), which gRPC needs",
        "another service answers on this port, or a TLS-terminating proxy in between does not pass HTTP/2",
    ),
}


def check_tls(
    name: str, address: str, port: int, *, server_name: str, creds: ClientCredentials, timeout: float
) -> TlsResult:
    """The handshake gRPC makes with the kit's certificates (mutual TLS, ALPN ``h2``, the server's certificate
    checked against the kit's root CA and the host name), then the HTTP/2 preface: a gRPC server answers it with
    a SETTINGS frame, and a server that refused this side's certificate under TLS 1.3 says so there."""
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cafile=str(creds.ca))
        context.load_cert_chain(str(creds.cert), str(creds.key))
        context.set_alpn_protocols(["h2"])
    except (OSError, ssl.SSLError, ValueError) as exc:
        return TlsResult(
            failed(name, f"cannot load the kit's certificates: {exc}", "see the kit checks: the kit is damaged")
        )
    started = time.perf_counter()
    try:
        raw = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        return TlsResult(failed(name, f"cannot connect: {exc.strerror or exc}", "see the tcp check"))
    peer: x509.Certificate | None = None
    try:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            took = time.perf_counter() - started
            der = tls.getpeercert(binary_form=True)
            peer = x509.load_der_x509_certificate(der) if der else None
            version, alpn = tls.version(), tls.selected_alpn_protocol()
            spoken = f"{version}, ALPN {alpn or 'none'}"
            head = f"mutual TLS with {server_name} ({spoken}) in {_ms(took)}"
            frame = _h2_answer(tls, timeout)
    except ssl.SSLCertVerificationError as exc:
        return TlsResult(_verify_failure(name, server_name, exc), peer)
    except ssl.SSLEOFError:
        return TlsResult(_hung_up(name, server_name, peer is not None), peer)
    except ssl.SSLError as exc:
        return TlsResult(_refusal(name, exc, server_name), peer)
    except TimeoutError:
        if peer is None:
            return TlsResult(
                failed(
                    name,
                    f"TLS handshake with {_hostport(address, port)} timed out after {timeout:g} s "
                    "(TCP connected, no TLS answer)",
                    "something accepts the connection but does not complete TLS: a proxy or middlebox holding it, "
                    "or an overloaded coordinator; ask your network team whether TLS to this port is inspected",
                ),
                peer,
            )
        return TlsResult(
            warned(
                name,
                f"{head}; no HTTP/2 answer within {min(timeout, 2.0):g} s",
                "the handshake works but the server said nothing: check it is the coordinator's FL port",
            ),
            peer,
        )
    except ConnectionResetError:
        return TlsResult(_hung_up(name, server_name, peer is not None), peer)
    except (ConnectionError, OSError) as exc:
        return TlsResult(
            failed(
                name,
                f"the connection was closed during the TLS handshake ({exc.strerror or type(exc).__name__})",
                "the coordinator (or a firewall in between) dropped the handshake: if the coordinator logs "
                "a certificate error for this site, install the kit provisioned for it",
            ),
            peer,
        )
    if frame is None:  # BoringSSL (gRPC) refuses a client certificate by closing, with no alert under TLS 1.3
        hung = _hung_up(name, server_name, True)
        return TlsResult(failed(name, f"{head}; then {hung.measured}", hung.remedy), peer)
    if alpn != "h2":
        return TlsResult(
            warned(name, f"{head}; the server did not agree to HTTP/2", "check it is the coordinator's FL port"), peer
        )
    answer = "the server answered HTTP/2" if frame == _SETTINGS else f"the server answered (frame type {frame})"
    return TlsResult(passed(name, f"{head}; {answer}"), peer)


ALERT_WAIT_S = 0.5
"""How long to listen right after the handshake: under TLS 1.3 a server that refuses this side's certificate says so
(an alert) only after the handshake completed here; listening before sending anything keeps that alert from being
lost to a reset when the server closes with our bytes unread."""


def _h2_answer(tls: ssl.SSLSocket, timeout: float) -> int | None:
    """The first HTTP/2 frame's type from the server: what it says at once (an alert raises here), else its answer
    to the preface. ``None`` when it closed the connection."""
    tls.settimeout(min(timeout, ALERT_WAIT_S))
    try:
        return _read_frame_header(tls)
    except TimeoutError:
        pass
    tls.settimeout(min(timeout, 2.0))
    tls.sendall(H2_PREFACE)
    return _read_frame_header(tls)


def _hung_up(name: str, server_name: str, after_handshake: bool) -> Check:
    when = "right after the TLS handshake" if after_handshake else "during the TLS handshake"
    return failed(
        name,
        f"{server_name} closed the connection {when} without saying why",
        "the coordinator most likely refused this kit's certificate (look for this site in the coordinator's log): "
        "install the kit provisioned for this site by the coordinator's operator",
    )


def _read_frame_header(tls: ssl.SSLSocket) -> int | None:
    """The type of the first HTTP/2 frame the server sends, or ``None`` when it closed the connection."""
    data = b""
    while len(data) < 9:
        chunk = tls.recv(9 - len(data))
        if not chunk:
            return None
        data += chunk
    return data[3]


def _verify_failure(name: str, server_name: str, exc: ssl.SSLCertVerificationError) -> Check:
    """This side refused the server's certificate."""
    code, message = exc.verify_code, exc.verify_message
    measured = f"the server's certificate does not check out against the kit's root CA: {message} (code {code})"
    if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
        remedy = "the coordinator's certificate has expired (or this machine's clock is ahead): tell its operator"
    elif code == 9:  # X509_V_ERR_CERT_NOT_YET_VALID
        remedy = "this machine's clock is behind the coordinator's provisioning: set it right (NTP)"
    elif code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
        remedy = (
            f"the certificate is not for {server_name}: the kit's coordinator address must be the name it was "
            "provisioned with (not an IP or an alias)"
        )
    else:
        remedy = (
            "the server is not the coordinator this kit was provisioned for (another provisioning, or a TLS-"
            "inspecting proxy in between): install the current kit, or exempt this port from TLS inspection"
        )
    return failed(name, measured, remedy)


def _refusal(name: str, exc: ssl.SSLError, server_name: str) -> Check:
    """The server (or what stands in for it) refused or broke the handshake."""
    reason = str(exc.reason or "")
    said, remedy = _ALERTS.get(
        reason,
        (
            f"the TLS handshake with {server_name} failed ({reason or exc})",
            "compare the kit with the coordinator's (same provisioning) and look in the coordinator's log",
        ),
    )
    return failed(name, said, remedy)
