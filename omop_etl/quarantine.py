"""Quarantined source rows: kept beside the CDM (table ``fednode_quarantine``), never inside CDM tables.

A row is quarantined when its file is well formed but the row cannot be loaded (impossible date, unknown
patient, conflicting duplicate, non-numeric value). Only the row's location and its source key are kept,
never its clinical content.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, delete

EXTENSION_METADATA = MetaData()
"""fednode's own tables in the CDM database (kept out of ``omop_etl.cdm.Base`` so the CDM stays the spec's 39)."""

quarantine_table = Table(
    "fednode_quarantine",
    EXTENSION_METADATA,
    Column("quarantine_id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(20), nullable=False, doc="etl or notes"),
    Column("cdm_table", String(50), nullable=False),
    Column("source_file", String(255), nullable=False),
    Column("line", Integer, nullable=True),
    Column("source_key", String(255), nullable=True),
    Column("reason", String(100), nullable=False),
    Column("quarantined_at", DateTime, nullable=False),
)


@dataclass(frozen=True)
class QuarantinedRow:
    """One row that was not loaded, and why."""

    cdm_table: str
    source_file: str
    line: int | None
    source_key: str | None
    reason: str


@dataclass
class QuarantineLog:
    """Rows quarantined during one run, counted per table and reason."""

    rows: list[QuarantinedRow] = field(default_factory=list)

    def add(self, cdm_table: str, source_file: str, line: int | None, source_key: str | None, reason: str) -> None:
        self.rows.append(QuarantinedRow(cdm_table, source_file, line, source_key, reason))

    def counts(self) -> dict[str, dict[str, int]]:
        """``{table: {reason: n}}``."""
        out: dict[str, Counter[str]] = {}
        for row in self.rows:
            out.setdefault(row.cdm_table, Counter())[row.reason] += 1
        return {t: dict(sorted(c.items())) for t, c in sorted(out.items())}

    def __len__(self) -> int:
        return len(self.rows)


def write_quarantine(conn: Connection, origin: str, log: QuarantineLog, *, replace: bool = True) -> None:
    """Store ``log`` in ``fednode_quarantine``; with ``replace`` the previous rows of this origin go first."""
    EXTENSION_METADATA.create_all(conn, checkfirst=True)
    if replace:
        conn.execute(delete(quarantine_table).where(quarantine_table.c.origin == origin))
    now = datetime.now(UTC).replace(tzinfo=None)
    if log.rows:
        conn.execute(
            quarantine_table.insert(),
            [
                {
                    "origin": origin,
                    "cdm_table": r.cdm_table,
                    "source_file": r.source_file[:255],
                    "line": r.line,
                    "source_key": (r.source_key or "")[:255] or None,
                    "reason": r.reason[:100],
                    "quarantined_at": now,
                }
                for r in log.rows
            ],
        )
