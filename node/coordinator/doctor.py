"""``fednode doctor --coordinator``: is the coordinator reachable, are its kits valid, when did each site last call?

Checks (docs/deployment.md's troubleshooting section is keyed by these names): ``kit`` and ``kit.certificate``
(the server's startup kit; its certificate is for the host name the sites dial), ``admin-kit`` and
``admin-kit.certificate`` (the operator's kit, from the same provisioning), ``port`` (the FL port is bound and
answers from inside), ``dns`` (the advertised host name resolves here too), ``tls`` (the server's mutual-TLS
handshake with the admin kit's certificate: what every site does) and one ``contact.<site>`` per provisioned site:
the last time a result of it reached the coordinator (its countersigned audit heads, ``rounds.jsonl`` of the
runs), or ``never``. Read-only and bounded in time like the site's doctor.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

from fednode.clock import Clock, utc_now
from fednode.errors import FednodeError
from fednode.settings import Settings
from node.coordinator.anchors import kept_anchors
from node.kit.doctor import (
    DEFAULT_TIMEOUT_S,
    Check,
    ClientCredentials,
    Report,
    Status,
    Target,
    check_certificate,
    check_dns,
    check_tcp,
    check_tls,
    failed,
    guarded,
    passed,
    skipped,
    warned,
)
from node.kit.layout import FEDERATION_FILE, SITE_KEYS_DIR

SERVER_FILES = ("startup/fed_server.json", "startup/rootCA.pem", "startup/server.crt", "startup/server.key")
ADMIN_FILES = ("startup/fed_admin.json", "startup/rootCA.pem", "startup/client.crt", "startup/client.key")
LOOPBACK = "127.0.0.1"
ROUNDS_FILE = "rounds.jsonl"
"""What the controller appends per round in a run folder (``node.coordinator.controller.ROUNDS_FILE``; not
imported here: the controller loads NVFlare)."""
STALE_DAYS = 7
"""A site whose last result is older than this is a warning (it may have stopped, or lost its way here)."""


@dataclass(frozen=True)
class CoordinatorDoctor:
    """What the coordinator's doctor is given at the edge."""

    settings: Settings
    kit: Path
    admin_kit: Path | None = None
    sites: Sequence[str] = ()
    """Provisioned site names (``FEDNODE_SITES``); the server kit's pinned site keys add theirs."""
    timeout: float = DEFAULT_TIMEOUT_S
    clock: Clock = field(default=utc_now)


@dataclass(frozen=True)
class _ServerKit:
    root: Path
    target: Target
    admin_port: int


def diagnose_coordinator(doctor: CoordinatorDoctor) -> Report:
    """Every coordinator check, in order."""
    now = doctor.clock()
    checks: list[Check] = []
    kit_check, kit = _read_server_kit(doctor.kit)
    checks.append(kit_check)
    if kit is not None:
        startup = kit.root / "startup"
        cert_check, cert = check_certificate(
            "kit.certificate", startup / "server.crt", startup / "server.key", startup / "rootCA.pem", now=now
        )
        checks.append(cert_check)
        if cert is not None and cert_check.status is not Status.FAIL:
            checks.append(_server_name(cert.common_name, _san(cert.cert), kit.target.host))
    else:
        checks.append(skipped("kit.certificate", "not tried: no usable server kit (see the kit check)"))
    creds = None
    checks += guarded("admin-kit", lambda: _admin_kit(doctor.admin_kit, kit, now))
    if doctor.admin_kit is not None and all(
        c.status is not Status.FAIL for c in checks if c.name.startswith("admin-kit")
    ):
        a = doctor.admin_kit / "startup"
        creds = ClientCredentials(ca=a / "rootCA.pem", cert=a / "client.crt", key=a / "client.key")
    if kit is not None:
        checks += _network(kit, creds, doctor.timeout)
    else:
        checks += [skipped(n, "not tried: no usable server kit (see the kit check)") for n in ("port", "dns", "tls")]
    checks += guarded("contact", lambda: _contacts(doctor, kit, now))
    return Report("coordinator", tuple(checks))


def _read_server_kit(kit: Path) -> tuple[Check, _ServerKit | None]:
    fetch = (
        "mount the server's startup kit from `fednode provision` (compose: FEDNODE_SERVER_KIT, the server_kit "
        "secret), or name it with --kit"
    )
    if not kit.is_dir():
        return failed("kit", f"no server kit at {kit}", fetch), None
    missing = [n for n in SERVER_FILES if not (kit / n).is_file()]
    if missing:
        return failed("kit", f"{kit}: not a server's startup kit (no {', '.join(missing)})", fetch), None
    path = kit / "startup" / "fed_server.json"
    try:
        server = json.loads(path.read_text(encoding="utf-8"))["servers"][0]
        target = Target.parse(str(server["service"]["target"]))
        admin_port = int(server.get("admin_port", target.port))
    except OSError as exc:
        return failed("kit", f"{path}: cannot read it ({exc.strerror})", "give the service's user read access"), None
    except (ValueError, KeyError, IndexError, TypeError):
        return failed("kit", f"{path}: no FL address in it", f"the kit is damaged: {fetch}"), None
    ports = f"FL port {target.port}" + (f", admin port {admin_port}" if admin_port != target.port else "")
    return passed("kit", f"{kit}: server {target.host}, {ports}"), _ServerKit(kit, target, admin_port)


def _san(cert: x509.Certificate) -> list[str]:
    """The DNS names in the certificate's subject alternative names."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in ext.value.get_values_for_type(x509.DNSName)]


def _server_name(cn: str, san: list[str], host: str) -> Check:
    """``kit.name``: the server certificate is for the host name the sites dial (gRPC checks it)."""
    names = [cn, *san]
    if host not in names:
        return failed(
            "kit.name",
            f"the server certificate is for {', '.join(dict.fromkeys(names))}, but the kit tells sites to dial {host}",
            "provision again with --server-host set to the name the sites dial",
        )
    return passed("kit.name", f"the server certificate is for {host}, the name the sites dial")


def _admin_kit(admin: Path | None, kit: _ServerKit | None, now: datetime) -> list[Check]:
    if admin is None:
        return [skipped("admin-kit", "no admin kit given (--admin-kit, FEDNODE_ADMIN_KIT): `fednode study` is off")]
    if not admin.is_dir():
        return [
            failed("admin-kit", f"no admin kit at {admin}", "mount the operator's admin kit (the admin_kit secret)")
        ]
    missing = [n for n in ADMIN_FILES if not (admin / n).is_file()]
    if missing:
        return [failed("admin-kit", f"{admin}: not an admin kit (no {', '.join(missing)})", "mount the admin kit")]
    startup = admin / "startup"
    checks = [passed("admin-kit", f"{admin}: an admin kit")]
    cert_check, _ = check_certificate(
        "admin-kit.certificate", startup / "client.crt", startup / "client.key", startup / "rootCA.pem", now=now
    )
    checks.append(cert_check)
    if kit is not None and (startup / "rootCA.pem").read_bytes() != (kit.root / "startup" / "rootCA.pem").read_bytes():
        checks.append(
            failed(
                "admin-kit.provisioning",
                "the admin kit's rootCA.pem differs from the server kit's: two different provisionings",
                "mount the admin kit of the same `fednode provision` run as the server kit",
            )
        )
    return checks


def _network(kit: _ServerKit, creds: ClientCredentials | None, timeout: float) -> list[Check]:
    checks: list[Check] = []
    port, address = check_tcp("port", [LOOPBACK], kit.target.port, host=LOOPBACK, timeout=timeout)
    if address is None:
        port = failed(
            "port",
            port.measured,
            f"nothing answers on port {kit.target.port} inside: the FLARE server is not running or not bound to "
            "it (look at the service's log: `docker compose -f compose/coordinator.yml logs coordinator`)",
        )
    checks.append(port)
    if kit.admin_port != kit.target.port:
        admin, _ = check_tcp("admin-port", [LOOPBACK], kit.admin_port, host=LOOPBACK, timeout=timeout)
        checks.append(admin)
    dns, _ = check_dns("dns", kit.target.host, timeout=timeout)
    if dns.status is Status.FAIL:  # the sites must resolve it; here it is only a hint
        dns = warned(
            "dns",
            dns.measured,
            f"the sites dial {kit.target.host}: make sure it resolves for them to this machine's public address",
        )
    checks.append(dns)
    if creds is None:
        checks.append(skipped("tls", "not tried: no usable admin kit to present a client certificate with"))
    elif address is None:
        checks.append(skipped("tls", "not tried: the port check failed"))
    else:
        tls = check_tls("tls", LOOPBACK, kit.target.port, server_name=kit.target.host, creds=creds, timeout=timeout)
        checks.append(tls.check)
    return checks


def provisioned_sites(doctor: CoordinatorDoctor, kit: _ServerKit | None) -> list[str]:
    """The sites this coordinator serves: ``FEDNODE_SITES``, the server kit's pinned site keys, federation.json."""
    names: list[str] = list(doctor.sites)
    if kit is not None:
        folder = kit.root / SITE_KEYS_DIR
        names += [p.stem for p in sorted(folder.glob("*.pub"))] if folder.is_dir() else []
    federation = doctor.settings.federation_dir / FEDERATION_FILE
    if federation.is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):  # a damaged file names no sites
            names += list(json.loads(federation.read_text(encoding="utf-8")).get("site_dirs", {}))
    return list(dict.fromkeys(n for n in names if n))


def last_contacts(roots: Sequence[Path]) -> dict[str, tuple[datetime, str]]:
    """Each site's last contact the coordinator recorded: (when, what), from the countersigned audit heads and the
    runs' ``rounds.jsonl`` under ``roots``."""
    seen: dict[str, tuple[datetime, str]] = {}

    def note(site: str, at: datetime, what: str) -> None:
        if site not in seen or at > seen[site][0]:
            seen[site] = (at, what)

    try:
        for site, anchors in kept_anchors(list(roots)).items():
            last = max(anchors, key=lambda a: a.countersigned_at)
            note(site, datetime.fromisoformat(last.countersigned_at), f"audit head {last.head.seq} countersigned")
    except (FednodeError, ValueError):
        pass
    for path in _round_files(roots):
        for line in _lines(path):
            try:
                record = json.loads(line)
                at = datetime.fromisoformat(str(record["at"]))
                sites = [str(s) for s in record.get("sites", [])]
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            for site in sites:
                note(site, at, f"a result in {path.parent.name} round {record.get('round', '?')}")
    return seen


def _round_files(roots: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found += sorted(root.glob(f"*/{ROUNDS_FILE}")) + sorted(root.glob(f"*/*/{ROUNDS_FILE}"))
    return found


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def _contacts(doctor: CoordinatorDoctor, kit: _ServerKit | None, now: datetime) -> list[Check]:
    sites = provisioned_sites(doctor, kit)
    if not sites:
        return [
            skipped(
                "contact",
                "no provisioned site known (FEDNODE_SITES, or pinned site keys in the server kit)",
                "set FEDNODE_SITES to the provisioned site names",
            )
        ]
    settings = doctor.settings
    roots = [r for r in (kit.root if kit else None, settings.staged_kit_dir, settings.nvflare_workspace) if r]
    seen = last_contacts(roots)
    checks = []
    for site in sites:
        name = f"contact.{site}"
        if site not in seen:
            checks.append(
                warned(
                    name,
                    f"{site}: never (no result of it has reached this coordinator)",
                    f"ask {site} to run `fednode doctor` at the site; until it has taken part in a study this is "
                    "expected",
                )
            )
            continue
        at, what = seen[site]
        ago = now - at
        measured = f"{site}: last contact {at:%Y-%m-%d %H:%M} UTC ({_ago(ago.total_seconds())} ago, {what})"
        if ago.days >= STALE_DAYS:
            checks.append(warned(name, measured, f"ask {site} whether it still runs: `fednode doctor` at the site"))
        else:
            checks.append(passed(name, measured))
    return checks


def _ago(seconds: float) -> str:
    s = max(0.0, seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


__all__ = ["CoordinatorDoctor", "diagnose_coordinator", "last_contacts", "provisioned_sites"]
