"""Tamper-evident audit log: hash-chained records, Ed25519-signed checkpoints, verification and export."""

from policies.audit._chain import (
    CHECKPOINTED_EVENTS,
    GENESIS_HASH,
    HEAD_TYPE,
    AuditRecord,
    Checkpoint,
    SignedHead,
    VerifyReport,
    canonical_json,
    find_heads,
    record_hash,
    verify_records,
)
from policies.audit._events import AuditEvent
from policies.audit._export import (
    AuditExport,
    export_jsonl,
    export_ro_crate,
    read_anchors,
    read_export,
    read_jsonl,
    verify_export,
    verify_jsonl,
)
from policies.audit._log import AuditLog

__all__ = [
    "CHECKPOINTED_EVENTS",
    "GENESIS_HASH",
    "HEAD_TYPE",
    "AuditEvent",
    "AuditExport",
    "AuditLog",
    "AuditRecord",
    "Checkpoint",
    "SignedHead",
    "VerifyReport",
    "canonical_json",
    "export_jsonl",
    "export_ro_crate",
    "find_heads",
    "read_anchors",
    "read_export",
    "read_jsonl",
    "record_hash",
    "verify_export",
    "verify_jsonl",
    "verify_records",
]
