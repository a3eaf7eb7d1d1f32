"""The way from this site to the coordinator: DNS, TCP, mutual TLS, proxies, and how far the clocks agree."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from node.kit.doctor import (
    Check,
    Target,
    check_dns,
    check_tcp,
    check_tls,
    failed,
    passed,
    skipped,
    warned,
)
from node.site.doctor._kit import SiteKit
from node.site.doctor._store import open_read_only
from policies.policy_model import SitePolicy

CLOCK_TOLERANCE = timedelta(seconds=60)
"""Beyond this the clock check warns (transfer time included in what it measures, so it is generous)."""
PROXY_VARIABLES = ("grpc_proxy", "https_proxy", "http_proxy", "all_proxy")
"""The variables gRPC's C core reads for a proxy (``grpc_proxy`` first, then ``https_proxy``, ``http_proxy``)."""
NO_PROXY_VARIABLES = ("no_grpc_proxy", "no_proxy")


def network_checks(kit: SiteKit, *, timeout: float) -> tuple[list[Check], x509.Certificate | None]:
    """``dns``, ``tcp`` and ``tls`` in turn (a later one is skipped when an earlier one failed); also returns the
    coordinator's certificate when the handshake got that far."""
    target = kit.target
    dns, addresses = check_dns("dns", target.host, timeout=timeout)
    if not addresses:
        return [dns, _after("tcp", "dns"), _after("tls", "dns")], None
    tcp, address = check_tcp("tcp", addresses, target.port, host=target.host, timeout=timeout)
    if address is None:
        return [dns, tcp, _after("tls", "tcp")], None
    tls = check_tls("tls", address, target.port, server_name=target.host, creds=kit.creds, timeout=timeout)
    return [dns, tcp, tls.check], tls.peer


def _after(name: str, cause: str) -> Check:
    return skipped(name, f"not tried: the {cause} check failed")


def check_clock(*, now: datetime, peer: x509.Certificate | None, state_db: Path, target: Target | None) -> Check:
    """``clock``: how far this machine's clock and the coordinator's agree, from what there is to compare.

    The FL port tells no time before a site registers (NVFlare's cell messages carry send times only after
    that), so the evidence is: the coordinator's certificate (issued on the coordinator's provisioning machine:
    a certificate that is not valid yet means this clock is behind), and the last audit head this site signed
    that the coordinator countersigned (its countersignature time minus this site's signing time is the clock
    difference plus the transfer time)."""
    if peer is not None and now < peer.not_valid_before_utc:
        behind = peer.not_valid_before_utc - now
        return failed(
            "clock",
            f"the coordinator's certificate starts {peer.not_valid_before_utc:%Y-%m-%d %H:%M} UTC, "
            f"{_seconds(behind)} after this machine's clock",
            "set this machine's clock right (NTP: ask your IT for the hospital's time server)",
        )
    anchor = _last_countersignature(state_db)
    if anchor is not None:
        signed, countersigned = anchor
        lag = countersigned - signed
        measured = (
            f"the coordinator countersigned this site's last audit head {_signed_seconds(lag)} after this site "
            f"signed it ({signed:%Y-%m-%d %H:%M} UTC; transfer time included)"
        )
        if lag < -CLOCK_TOLERANCE:
            return warned(
                "clock",
                measured + f": this machine's clock is at least {_seconds(-lag)} ahead of the coordinator's",
                "set this machine's clock right (NTP); audit heads and approvals carry its time",
            )
        if lag > CLOCK_TOLERANCE:
            return warned(
                "clock",
                measured + ": either a slow transfer or clocks that differ by up to that much",
                "check both clocks against NTP (`timedatectl` or `chronyc tracking` on the host)",
            )
        return passed("clock", measured)
    where = f" at {target}" if target is not None else ""
    return skipped(
        "clock",
        f"no time to compare with: the FL port{where} tells none before a site registers, and this site has no "
        "countersigned audit head yet (one comes back with the first task after a result)",
        "keep the host's clock synchronised with NTP (`timedatectl` or `chronyc tracking` on the host)",
    )


def _last_countersignature(state_db: Path) -> tuple[datetime, datetime] | None:
    """(this site signed, the coordinator countersigned) of the last kept anchor in state.db, if any."""
    if not state_db.is_file():
        return None
    try:
        with open_read_only(state_db) as db:
            row = db.execute("SELECT anchor_json FROM audit_anchor ORDER BY seq DESC, id DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    try:
        anchor = json.loads(row[0])
        return datetime.fromisoformat(anchor["head"]["at"]), datetime.fromisoformat(anchor["countersigned_at"])
    except (ValueError, KeyError, TypeError):
        return None


def _seconds(span: timedelta) -> str:
    s = abs(span.total_seconds())
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def _signed_seconds(span: timedelta) -> str:
    return _seconds(span) if span >= timedelta(0) else f"-{_seconds(span)}"


@dataclass(frozen=True)
class _Proxy:
    variable: str
    value: str


def check_proxy(env: Mapping[str, str], target: Target | None) -> Check:
    """``proxy``: a proxy variable gRPC would use to reach the coordinator (``no_proxy`` taken into account)."""
    proxy = _proxy_for(env)
    if proxy is None:
        return passed("proxy", "no proxy variable set (grpc_proxy, https_proxy, http_proxy): gRPC connects directly")
    host = target.host if target is not None else None
    exempt = _exempt(env, host) if host is not None else None
    shown = _without_password(proxy.value)
    if exempt:
        return passed("proxy", f"{proxy.variable}={shown} is set, but {exempt} exempts {host}: gRPC connects directly")
    dest = f"{target}" if target is not None else "the coordinator"
    return warned(
        "proxy",
        f"{proxy.variable}={shown}: gRPC will tunnel to {dest} through this proxy (HTTP CONNECT)",
        f"either the proxy must allow CONNECT to {dest} without inspecting TLS, or add {host or 'the host'} to "
        "no_proxy (or unset the variable for the site container)",
    )


def _proxy_for(env: Mapping[str, str]) -> _Proxy | None:
    for name in PROXY_VARIABLES:
        for variable in (name, name.upper()):
            value = env.get(variable, "").strip()
            if value:
                return _Proxy(variable, value)
    return None


def _exempt(env: Mapping[str, str], host: str) -> str | None:
    """The variable whose list exempts ``host`` (``*``, the host, or a domain suffix), if any."""
    for name in NO_PROXY_VARIABLES:
        for variable in (name, name.upper()):
            for entry in env.get(variable, "").split(","):
                item = entry.strip().lower().split(":")[0]
                if not item:
                    continue
                if item == "*" or host.lower() == item.lstrip(".") or host.lower().endswith("." + item.lstrip(".")):
                    return variable
    return None


def _without_password(url: str) -> str:
    """A proxy URL as it can be shown (``user:secret@`` becomes ``user:***@``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    creds, at, hostpart = rest.rpartition("@")
    if not at:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{hostpart}"


def check_coordinator_identity(peer: x509.Certificate | None, policy: SitePolicy | None) -> Check:
    """``policy.coordinator``: the coordinator's certificate (name and organisation) is one the site policy's
    ``participants.coordinators`` lists."""
    if peer is None:
        return skipped("policy.coordinator", "not tried: no certificate from the coordinator (see the tls check)")
    name, org = _attribute(peer, NameOID.COMMON_NAME), _attribute(peer, NameOID.ORGANIZATION_NAME)
    if policy is None:
        return skipped("policy.coordinator", f"the coordinator is {name} / {org}; no site policy to compare with")
    allowed = policy.participants.coordinators
    if any(c.matches(name, org) for c in allowed):
        return passed("policy.coordinator", f"the coordinator {name} / {org} is in participants.coordinators")
    listed = "; ".join(str(c) for c in allowed)
    return warned(
        "policy.coordinator",
        f"the coordinator's certificate says {name} / {org}, but participants.coordinators lists {listed}",
        "correct participants.coordinators in the site policy (the coordinator's --server-host and the "
        "operator's organisation, as its certificate says), or the site's verdicts will not recognise it",
    )


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""
