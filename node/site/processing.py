"""The record of processing (GDPR art. 30): every command that processes the site's data, or sets the site up,
appends one audit record to the site's chain with ids, counts and digests, never patient data.

:func:`record_processing` is the one helper the commands share. It opens the site's audit log the way every other
writer does (:func:`policies.state_db.open_state_db`, with the site key) and creates nothing: where this home holds
no site yet (no state.db or no site key: ``fednode site init`` creates them) it records nothing and returns None,
and the caller says so loudly ("not recorded: no site here").

The digests here identify what was processed without holding it: a source folder is digested from its files' names,
sizes and sha256; the de-identification secret is named by a short key id (a hash of it), never the secret.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fednode.errors import NotFoundError
from fednode.settings import DeidSettings, Settings
from policies.audit import AuditEvent, AuditRecord
from policies.state_db import open_state_db

log = logging.getLogger("fednode.node.site.processing")

_CHUNK = 1 << 20


def record_processing(
    settings: Settings, event: AuditEvent, details: Mapping[str, Any], *, actor: str
) -> AuditRecord | None:
    """Append ``event`` with ``details`` (ids, counts, digests only) to this site's audit log; None, with nothing
    created, when this home holds no site (no state.db or site key)."""
    try:
        db = open_state_db(settings, create=False, tolerate_invalid_policy=True)
    except NotFoundError:
        log.warning("processing.not_recorded event=%s reason=no_site home=%s", event.value, settings.home)
        return None
    try:
        record = db.audit.append(event, actor=actor, details=details)
    finally:
        db.close()
    log.info("processing.recorded event=%s seq=%d", event.value, record.seq)
    return record


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def folder_digest(folder: Path) -> tuple[str, int]:
    """``(sha256:<hex>, file count)`` over every file under ``folder``: its relative path, size and sha256, in path
    order. The same extract gives the same digest wherever it lies."""
    h = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        h.update(f"{path.relative_to(folder).as_posix()}\0{path.stat().st_size}\0{file_digest(path)}\n".encode())
    return f"sha256:{h.hexdigest()}", len(files)


def secret_id(deid: DeidSettings) -> str | None:
    """A short id of the site's de-identification secret (which one was used: surrogates depend on it), never the
    secret; None when none is set."""
    if deid.secret is None:
        return None
    raw = deid.secret.get_secret_value().encode()
    return "sha256:" + hashlib.sha256(b"fednode-deid-secret-id\0" + raw).hexdigest()[:16]


def db_kind(url: str) -> str:
    """The database dialect of a URL (``sqlite``, ``postgresql``): never the URL, which may hold a password."""
    return url.split(":", 1)[0].split("+", 1)[0] or "unknown"


def etl_details(payload: Mapping[str, Any], source: Path, db_url: str) -> dict[str, Any]:
    """An ETL run's record: source digest and file count, rows per table, changes, quarantined counts per table,
    unmapped record counts per table (never the codes' source values)."""
    digest, files = folder_digest(source)
    quarantined = {t: sum(int(n) for n in reasons.values()) for t, reasons in payload.get("quarantined", {}).items()}
    return {
        "command": "etl",
        "source_digest": digest,
        "source_files": files,
        "db": db_kind(db_url),
        "rows": dict(payload.get("rows", {})),
        "changed_total": int(payload.get("changed_total", 0)),
        "quarantined": quarantined,
        "quarantined_reasons": {t: dict(r) for t, r in payload.get("quarantined", {}).items()},
        "quarantined_total": int(payload.get("quarantined_total", sum(quarantined.values()))),
        "unmapped_records": {t: int(i.get("records", 0)) for t, i in payload.get("unmapped", {}).items()},
        "vocabulary_loaded": bool(payload.get("vocabulary")),
    }


def notes_details(
    result: Mapping[str, Any], notes: Path, deid: DeidSettings, *, command: str, db_url: str | None
) -> dict[str, Any]:
    """A de-identification run's record: the notes file's digest, counts per PHI label, quarantined counts by
    reason, what was loaded, the operator and the secret's id (never text, names or ids of patients)."""
    report: Mapping[str, Any] = result.get("deid", {})
    load: Mapping[str, Any] = result.get("load", {})
    details: dict[str, Any] = {
        "command": command,
        "input_digest": file_digest(notes),
        "operator": result.get("operator") or deid.operator,
        "secret_id": secret_id(deid),
        "read": int(report.get("read", 0)),
        "deidentified": int(report.get("deidentified", 0)),
        "phi": {str(k): int(v) for k, v in report.get("phi", {}).items()},
        "quarantined": {str(k): int(v) for k, v in report.get("quarantined", {}).items()},
        "annotations_kept": int(report.get("annotations_kept", 0)),
    }
    if db_url is not None:
        details["db"] = db_kind(db_url)
        details["loaded"] = {k: int(load.get(k, 0)) for k in ("inserted", "updated", "unchanged", "nlp_rows")}
        details["load_quarantined"] = {str(k): int(v) for k, v in load.get("quarantined", {}).items()}
    return details


def dq_details(payload: Mapping[str, Any], db_url: str, accept: Path | None) -> dict[str, Any]:
    """A DQ run's record: counts per status, the verdict, the failed and accepted checks (check and table.field
    names only), the accept file's digest."""

    def where(r: Mapping[str, Any]) -> str:
        field = f".{r['field']}" if r.get("field") else ""
        return f"{r['check']} {r['table']}{field}" + (f"@{r['concept_id']}" if r.get("concept_id") else "")

    checks = payload.get("checks", [])
    return {
        "command": "dq",
        "db": db_kind(db_url),
        "verdict": "passed" if payload.get("ok") else "failed",
        "summary": {str(k): int(v) for k, v in payload.get("summary", {}).items()},
        "failed_checks": [where(r) for r in checks if r.get("status") == "fail"][:200],
        "accepted_checks": [where(r) for r in checks if r.get("status") == "accepted"][:200],
        "accept_file_digest": file_digest(accept) if accept is not None else None,
    }


__all__ = [
    "db_kind",
    "dq_details",
    "etl_details",
    "file_digest",
    "folder_digest",
    "notes_details",
    "record_processing",
    "secret_id",
]
