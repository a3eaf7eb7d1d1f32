"""Writes CDM rows idempotently: compares with what the database holds (by primary key) and applies only the
inserts, updates and deletes needed. Re-running an unchanged extract therefore writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, update

from omop_etl.cdm import Base
from omop_etl.cdm import table as cdm_table


@dataclass
class TableChanges:
    """What a load did to one table."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


def bulk_insert(
    conn: Connection, target: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], batch: int
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) in batches; the one insert path, also used by the benchmark."""
    stmt = insert(target)
    count = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(dict(zip(columns, row, strict=True)))
        if len(chunk) >= batch:
            conn.execute(stmt, chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        conn.execute(stmt, chunk)
        count += len(chunk)
    return count


def _key_columns(target: Table, name: str) -> list[str]:
    pk = [c.name for c in target.primary_key.columns]
    if pk:
        return pk
    # a table the spec gives no PK: use its mapper-level key
    for mapper in Base.registry.mappers:
        if mapper.local_table is target:
            return [c.name for c in mapper.primary_key]
    raise KeyError(name)


def sync_table(
    conn: Connection, name: str, columns: Sequence[str], rows: list[list[Any]], *, batch: int = 5000
) -> TableChanges:
    """Make table ``name`` hold exactly ``rows``, touching only rows that differ."""
    target = cdm_table(name)
    keys = _key_columns(target, name)
    positions = [columns.index(k) for k in keys]
    changes = TableChanges()
    existing: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    cols = [target.c[c] for c in columns]
    for db_row in conn.execute(select(*cols)):
        values = tuple(db_row)
        existing[tuple(values[p] for p in positions)] = values
    if not existing:
        changes.inserted = bulk_insert(conn, target, columns, rows, batch)
        return changes
    to_insert: list[list[Any]] = []
    to_update: list[dict[str, Any]] = []
    for row in rows:
        key = tuple(row[p] for p in positions)
        old = existing.pop(key, None)
        if old is None:
            to_insert.append(row)
        elif old != tuple(row):
            to_update.append({f"_{c}": v for c, v in zip(columns, row, strict=True)})
        else:
            changes.unchanged += 1
    if to_update:
        stmt = (
            update(target)
            .where(and_(*(target.c[k] == bindparam(f"_{k}") for k in keys)))
            .values({c: bindparam(f"_{c}") for c in columns if c not in keys})
        )
        for start in range(0, len(to_update), batch):
            conn.execute(stmt, to_update[start : start + batch])
        changes.updated = len(to_update)
    if existing:
        stmt_d = delete(target).where(and_(*(target.c[k] == bindparam(f"_{k}") for k in keys)))
        gone = [{f"_{k}": v for k, v in zip(keys, key, strict=True)} for key in existing]
        for start in range(0, len(gone), batch):
            conn.execute(stmt_d, gone[start : start + batch])
        changes.deleted = len(gone)
    changes.inserted = bulk_insert(conn, target, columns, to_insert, batch)
    return changes
