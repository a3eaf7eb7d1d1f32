"""What ``fednode doctor`` shares between the site and the coordinator: the check result, certificate and
network probes. The site's checks live in :mod:`node.site.doctor`, the coordinator's in
:mod:`node.coordinator.doctor`; the command in :mod:`node.cli.commands_doctor`.

Every probe is read-only (it creates no file anywhere) and bounded in time.
"""

from __future__ import annotations

from node.kit.doctor._certs import KitCert, check_certificate, read_cert, validity
from node.kit.doctor._net import ClientCredentials, Target, TlsResult, check_dns, check_tcp, check_tls
from node.kit.doctor._report import Check, Report, Side, Status, failed, guarded, passed, skipped, warned

DEFAULT_TIMEOUT_S = 3.0
"""Seconds each network check may take (``fednode doctor --timeout``)."""

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "Check",
    "ClientCredentials",
    "KitCert",
    "Report",
    "Side",
    "Status",
    "Target",
    "TlsResult",
    "check_certificate",
    "check_dns",
    "check_tcp",
    "check_tls",
    "failed",
    "guarded",
    "passed",
    "read_cert",
    "skipped",
    "validity",
    "warned",
]
