"""Exports of the audit log an auditor can verify without the site: JSONL and a Five Safes RO-Crate folder.

JSONL: one object a line; ``{"type": "record", ...}`` for each record in order, then
``{"type": "checkpoint", ...}`` for each signed checkpoint, then one ``{"type": "head", ...}`` line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fednode.errors import BadInputError
from policies.audit._chain import AuditRecord, Checkpoint, VerifyReport, canonical_json, verify_records
from policies.audit._log import AuditLog
from policies.keys import public_key_pem

FIVE_SAFES_PROFILE = "https://w3id.org/5s-crate/0.4"
RO_CRATE_SPEC = "https://w3id.org/ro/crate/1.1"


def export_jsonl(audit: AuditLog, out: IO[str]) -> VerifyReport:
    """Write the whole log as JSONL, verifying it while it is written; returns the verification report."""
    checkpoints = audit.checkpoints()

    def tee(records: Iterable[AuditRecord]) -> Iterable[AuditRecord]:
        for rec in records:
            out.write(canonical_json({"type": "record", **rec.to_json()}) + "\n")
            yield rec

    report = audit.verify_stream(tee(audit.iter_records()), checkpoints)
    for cp in checkpoints:
        out.write(canonical_json({"type": "checkpoint", **cp.to_json()}) + "\n")
    out.write(canonical_json({"type": "head", "seq": report.last_seq, "hash": report.last_hash}) + "\n")
    return report


def read_jsonl(path: Path) -> tuple[list[AuditRecord], list[Checkpoint]]:
    """Parse an exported JSONL file; malformed lines raise :class:`BadInputError` with the line number."""
    records: list[AuditRecord] = []
    checkpoints: list[Checkpoint] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                kind = obj.get("type")
                if kind == "record":
                    records.append(AuditRecord.from_json(obj))
                elif kind == "checkpoint":
                    checkpoints.append(Checkpoint.from_json(obj))
                elif kind != "head":
                    raise ValueError(f"unknown type {kind!r}")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise BadInputError(
                    f"not an audit export line ({type(exc).__name__})", file=str(path), line=lineno
                ) from exc
    return records, checkpoints


def verify_jsonl(path: Path, public_key: Ed25519PublicKey) -> VerifyReport:
    """Verify an exported log offline (another site, an auditor)."""
    records, checkpoints = read_jsonl(path)
    return verify_records(records, checkpoints, public_key)


def export_ro_crate(audit: AuditLog, folder: Path, *, site: str, public_key: Ed25519PublicKey) -> VerifyReport:
    """Write a Five Safes RO-Crate folder: ``audit.jsonl``, ``site.pub`` and ``ro-crate-metadata.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "audit.jsonl").open("w", encoding="utf-8") as fh:
        report = export_jsonl(audit, fh)
    (folder / "site.pub").write_text(public_key_pem(public_key), encoding="ascii")
    metadata = _crate_metadata(site, report)
    (folder / "ro-crate-metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return report


def _crate_metadata(site: str, report: VerifyReport) -> dict[str, Any]:
    return {
        "@context": "https://w3id.org/ro/crate/1.1/context",
        "@graph": [
            {
                "@id": "ro-crate-metadata.json",
                "@type": "CreativeWork",
                "conformsTo": [{"@id": RO_CRATE_SPEC}, {"@id": FIVE_SAFES_PROFILE}],
                "about": {"@id": "./"},
            },
            {
                "@id": "./",
                "@type": "Dataset",
                "name": f"fednode audit log of {site}",
                "description": "Hash-chained audit log of the site's federated-learning jobs, with Ed25519-signed "
                "checkpoints. Contains no patient data.",
                "conformsTo": {"@id": FIVE_SAFES_PROFILE},
                "hasPart": [{"@id": "audit.jsonl"}, {"@id": "site.pub"}],
                "mentions": {"@id": "#audit-verification"},
            },
            {
                "@id": "audit.jsonl",
                "@type": "File",
                "encodingFormat": "application/jsonl",
                "description": f"{report.records} records, {report.checkpoints} signed checkpoints; "
                f"head {report.last_hash}",
            },
            {"@id": "site.pub", "@type": "File", "encodingFormat": "application/x-pem-file"},
            {
                "@id": "#audit-verification",
                "@type": "CreateAction",
                "name": "Audit chain verified at export",
                "actionStatus": "http://schema.org/CompletedActionStatus",
                "object": {"@id": "audit.jsonl"},
                "result": report.to_json(),
                "agent": {"@id": f"#site-{site}"},
            },
            {"@id": f"#site-{site}", "@type": "Organization", "name": site},
        ],
    }
