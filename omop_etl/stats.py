"""Cheap read-only numbers about a CDM database: row counts for the dashboard, and the site's local record count
that the site policy's ``min_local_records`` is judged on (one definition for the gate and ``fednode policy
check``)."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, inspect, make_url, select
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from omop_etl.cdm import Base, Concept, NoteNlp
from omop_etl.db import cdm_tables, make_engine
from omop_etl.notes import GOLD_SYSTEM

log = logging.getLogger("fednode.omop_etl.stats")


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per CDM table that exists in the database (absent tables are left out)."""
    present = set(inspect(engine).get_table_names())
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for name, table in sorted(Base.metadata.tables.items()):
            if name in present:
                out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
    return out


def annotated_note_count(engine: Engine) -> int:
    """The site's local training records: distinct notes that carry gold spans (``NOTE_NLP`` rows of
    ``nlp_system = 'gold'``), the records the built-in NER trainer learns from."""
    query = select(func.count(func.distinct(NoteNlp.note_id))).where(NoteNlp.nlp_system == GOLD_SYSTEM)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def local_record_count(url: str) -> int:
    """:func:`annotated_note_count` of the CDM at ``url``; 0 when there is no CDM or it cannot be read (the
    policy's ``min_local_records`` then denies: the site fails closed). A missing SQLite file is never created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        log.warning("stats.records_unknown reason=bad_url")
        return 0
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).is_file():
            return 0
        engine = create_engine(parsed)  # read only: no WAL pragma written for a count
    else:
        engine = make_engine(url)
    try:
        return annotated_note_count(engine)
    except SQLAlchemyError as exc:
        log.warning("stats.records_unknown reason=%s", type(exc).__name__)
        return 0
    finally:
        engine.dispose()


def has_vocabulary(url: str) -> bool:
    """True when the CDM at ``url`` holds a loaded vocabulary (a ``concept`` table with a concept besides 0); a
    missing SQLite file is never created."""
    tables = cdm_tables(url)
    if tables is None or "concept" not in tables:
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(Concept).where(Concept.concept_id != 0)
            return bool(conn.execute(query).scalar())
    finally:
        engine.dispose()
