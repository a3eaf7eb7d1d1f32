"""``fednode doctor`` at a site: why can't this site reach the coordinator, and is everything else in place?

:func:`diagnose_site` runs every check in order and returns a :class:`~node.kit.doctor.Report`. Check names are
:data:`SITE_CHECKS` (the troubleshooting section of docs/deployment.md is keyed by them). It reads, never writes:
no file is created anywhere, state.db and the CDM are opened read-only, and each network check is bounded by
``timeout`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from fednode.clock import Clock, utc_now
from fednode.errors import PolicyFileError
from fednode.settings import Settings
from node.kit.doctor import DEFAULT_TIMEOUT_S, Check, KitCert, Report, guarded, skipped
from node.site.doctor._kit import SiteKit, check_kit_certificate, check_kit_name, check_pinned_key, read_site_kit
from node.site.doctor._local import (
    check_cdm,
    check_disk,
    check_gpu,
    check_models,
    check_policy,
    check_sandbox,
    check_state,
)
from node.site.doctor._network import check_clock, check_coordinator_identity, check_proxy, network_checks
from policies.policy_model import SitePolicy, load_policy
from policies.state_db import signing_key_path

SITE_CHECKS = (
    "kit",
    "kit.certificate",
    "kit.name",
    "kit.site-key",
    "dns",
    "tcp",
    "tls",
    "policy.coordinator",
    "clock",
    "proxy",
    "disk",
    "state",
    "cdm",
    "policy",
    "models",
    "sandbox",
    "gpu",
)

NEEDS_KIT = SITE_CHECKS[1:7]
"""The checks a usable startup kit is needed for (skipped without one)."""


@dataclass(frozen=True)
class SiteDoctor:
    """What the site's doctor is given at the edge: the settings, the kit to check, the proxy variables."""

    settings: Settings
    kit: Path
    timeout: float = DEFAULT_TIMEOUT_S
    env: Mapping[str, str] = field(default_factory=dict)
    """The proxy variables of the environment the site runs in (read at the edge)."""
    clock: Clock = utc_now


def diagnose_site(doctor: SiteDoctor) -> Report:
    """Every site check, in order (a check that cannot run because an earlier one failed is skipped, saying so)."""
    settings, now = doctor.settings, doctor.clock()
    policy, problem = _policy(settings)
    checks: list[Check] = []
    kit_check, kit = read_site_kit(doctor.kit)
    checks.append(kit_check)
    cert: KitCert | None = None
    peer: x509.Certificate | None = None
    if kit is not None:
        cert_check, cert = check_kit_certificate(kit, now=now)
        checks.append(cert_check)
        name, source = _site_name(policy)
        checks.append(check_kit_name(cert, name, source=source))
        checks += guarded("kit.site-key", lambda: check_pinned_key(kit, signing_key_path(settings, policy)))
        network, peer = network_checks(kit, timeout=doctor.timeout)
        checks += network
    else:
        checks += [skipped(n, "not tried: no usable startup kit (see the kit check)") for n in NEEDS_KIT]
    checks += guarded("policy.coordinator", lambda: check_coordinator_identity(peer, policy))
    target = kit.target if kit is not None else None
    checks += guarded("clock", lambda: check_clock(now=now, peer=peer, state_db=settings.state_db_path, target=target))
    checks += guarded("proxy", lambda: check_proxy(doctor.env, target))
    checks += guarded("disk", lambda: check_disk(settings.home))
    checks += guarded("state", lambda: check_state(settings))
    checks += guarded("cdm", lambda: check_cdm(settings, timeout=doctor.timeout))
    checks += guarded("policy", lambda: check_policy(settings, policy, problem, _local_dirs(settings, kit)))
    checks += guarded("models", lambda: check_models(settings))
    checks += guarded("sandbox", lambda: check_sandbox(policy))
    checks += guarded("gpu", lambda: check_gpu(settings))
    return Report("site", tuple(checks))


def _policy(settings: Settings) -> tuple[SitePolicy | None, str | None]:
    path = settings.policy_path
    if not path.is_file():
        return None, None
    try:
        return load_policy(path), None
    except PolicyFileError as exc:
        return None, exc.message


def _site_name(policy: SitePolicy | None) -> tuple[str | None, str]:
    if policy is None:
        return None, "no site policy"
    return policy.site.name, "the site policy's site.name"


def _local_dirs(settings: Settings, kit: SiteKit | None) -> list[Path]:
    """Where compiled site files may lie: the staged kit the site runs (boot), then the kit's own ``local/``."""
    dirs = [settings.site_local_dir]
    if kit is not None:
        dirs.append(kit.root / "local")
    return dirs


__all__ = ["NEEDS_KIT", "SITE_CHECKS", "SiteDoctor", "diagnose_site"]
