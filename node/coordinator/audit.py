"""The coordinator's own audit log: what the consortium side did (provisioning, study submissions and downloads),
hash-chained and signed with the coordinator's Ed25519 key, the same :class:`policies.audit.AuditLog` a site keeps.

It lives in the provisioned federation folder beside ``federation.json`` (:data:`COORDINATOR_AUDIT_DB`), signed with
the key in the server kit (``<server kit>/local/fednode-keys``, :data:`node.kit.layout.COORDINATOR_KEY_DIR`).
Where that key is not on this machine (an operator with only the admin kit) nothing is recorded and the caller
says so. Reprovisioning with ``--force`` gives the coordinator a new key: the log signed with the old one is kept
aside (:func:`keep_aside_if_rekeyed`), never re-signed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fednode.errors import NotFoundError
from node.kit.layout import COORDINATOR_KEY_DIR, Federation
from policies.audit import AuditEvent, AuditLog, AuditRecord
from policies.keys import key_file, load_site_key
from policies.state import StateStore

log = logging.getLogger("fednode.node.coordinator.audit")

COORDINATOR_AUDIT_DB = "coordinator-audit.db"
"""The coordinator's audit log, in the federation folder."""


def coordinator_key_id(fed: Federation) -> str | None:
    """The id of the coordinator's signing key in ``fed``'s server kit; None where the kit is not here."""
    try:
        return load_site_key(fed.server_dir / COORDINATOR_KEY_DIR).key_id
    except NotFoundError:
        return None


def previous_key_id(root: Path) -> str | None:
    """The coordinator key id of the federation already provisioned in ``root``, if any (before ``--force``)."""
    import json

    from node.kit.layout import FEDERATION_FILE

    try:
        fed = Federation.from_json(json.loads((root / FEDERATION_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return coordinator_key_id(fed)


def open_coordinator_audit(fed: Federation) -> tuple[AuditLog, StateStore] | None:
    """The coordinator's audit log (and its store, to dispose), signed with its key; None without the key here."""
    path = key_file(fed.server_dir / COORDINATOR_KEY_DIR)
    if not path.is_file():
        return None
    key = load_site_key(path)
    store = StateStore.for_path(fed.root / COORDINATOR_AUDIT_DB)
    return AuditLog(store, key), store


def record_coordinator(
    fed: Federation, event: AuditEvent, details: Mapping[str, Any], *, actor: str
) -> AuditRecord | None:
    """Append ``event`` to the coordinator's audit log; None (nothing created) where its key is not here."""
    opened = open_coordinator_audit(fed)
    if opened is None:
        log.warning("coordinator_audit.not_recorded event=%s reason=no_coordinator_key root=%s", event.value, fed.root)
        return None
    audit, store = opened
    try:
        record = audit.append(event, actor=actor, details=details)
    finally:
        store.dispose()
    log.info("coordinator_audit.recorded event=%s seq=%d", event.value, record.seq)
    return record


def record_provisioning(fed: Federation, old_key_id: str | None, *, actor: str) -> AuditRecord | None:
    """After provisioning ``fed``: keep a log signed by a replaced key aside (:func:`keep_aside_if_rekeyed`) and
    record ``federation:provisioned`` (project, sites, server, port, the coordinator key id and the one replaced)."""
    new_key = coordinator_key_id(fed)
    kept = keep_aside_if_rekeyed(fed.root, old_key_id, new_key)
    details: dict[str, Any] = {
        "project": fed.project,
        "sites": sorted(fed.site_dirs),
        "server": fed.server_name,
        "fl_port": fed.fl_port,
        "coordinator_key_id": new_key,
        "replaced_key_id": old_key_id if old_key_id != new_key else None,
        "previous_log": kept.name if kept else None,
    }
    return record_coordinator(fed, AuditEvent.FEDERATION_PROVISIONED, details, actor=actor)


def keep_aside_if_rekeyed(root: Path, old_key_id: str | None, new_key_id: str | None) -> Path | None:
    """After ``provision --force`` replaced the coordinator key: move the log the old key signed aside
    (``coordinator-audit.<old key id>.db``), so the new key starts a new chain; returns where it went."""
    current = root / COORDINATOR_AUDIT_DB
    if old_key_id is None or old_key_id == new_key_id or not current.is_file():
        return None
    kept = root / f"coordinator-audit.{old_key_id}.db"
    for suffix in ("", "-wal", "-shm"):
        side = current.with_name(current.name + suffix)
        if side.exists():
            side.replace(kept.with_name(kept.name + suffix))
    log.warning("coordinator_audit.kept_aside old_key=%s path=%s", old_key_id, kept)
    return kept


__all__ = [
    "COORDINATOR_AUDIT_DB",
    "coordinator_key_id",
    "keep_aside_if_rekeyed",
    "open_coordinator_audit",
    "previous_key_id",
    "record_coordinator",
    "record_provisioning",
]
