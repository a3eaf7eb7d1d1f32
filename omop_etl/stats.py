"""Cheap read-only numbers about a CDM database, for the dashboard."""

from __future__ import annotations

from sqlalchemy import Engine, func, inspect, select

from omop_etl.cdm import Base


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per CDM table that exists in the database (absent tables are left out)."""
    present = set(inspect(engine).get_table_names())
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for name, table in sorted(Base.metadata.tables.items()):
            if name in present:
                out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
    return out
