"""Site data glue: raw notes JSONL -> de-identified NOTE + re-aligned NOTE_NLP (the only way notes enter the CDM).

Raw text never reaches the database: each note is de-identified in memory (:mod:`deid`), its gold annotations are
moved through the offset map, and only then :func:`omop_etl.notes.load_notes` writes it, in one transaction.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fednode.errors import NotFoundError
from fednode.settings import Settings
from omop_etl.db import masked_url

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from deid.batch import DeidentifiedRecord, QuarantinedRecord

log = logging.getLogger("fednode.node.site.notes")


def check_notes_load(
    settings: Settings, notes_path: Path, db_url: str | None = None, operator: str | None = None
) -> str:
    """Everything ``deid run`` into the CDM needs, checked before any model loads; returns the CDM URL.

    Raises :class:`~fednode.errors.NoteInputError` for a missing, binary or empty notes file (exit 4),
    :class:`~fednode.errors.ConfigError` when surrogates would be stored without the site secret (exit 2), and
    :class:`~fednode.errors.NotFoundError` when there is no CDM with a PERSON table yet (exit 4; nothing is created),
    :class:`~fednode.errors.ServiceError` when the database server cannot be reached (exit 1, one line).
    """
    from deid.checks import check_input, check_operator
    from omop_etl.db import cdm_tables, check_reachable, make_engine, parse_db_url, sqlite_file

    check_input(notes_path)
    check_operator(settings.deid, operator, persistent=True)
    url = db_url or settings.omop_db_url
    option = "--db" if db_url else "omop_url"
    parse_db_url(url, option=option)
    if sqlite_file(url) is None:  # a database server: reachable at all? (one line, password masked)
        engine = make_engine(url)
        try:
            check_reachable(engine, option=option)
        finally:
            engine.dispose()
    tables = cdm_tables(url)
    if tables is None or "person" not in tables:
        where = f"{option} {masked_url(url)}"
        raise NotFoundError(
            f"{where}: no OMOP CDM with a PERSON table there; load the EHR extract first (`fednode etl --source DIR`)"
        )
    return url


def _load_quarantine(engine: Engine, done: list[DeidentifiedRecord], source: str) -> list[QuarantinedRecord]:
    """The notes :func:`omop_etl.notes.load_notes` just quarantined (its ``notes`` rows), as input-line records."""
    from sqlalchemy import inspect, select

    from deid.batch import QuarantinedRecord
    from omop_etl.quarantine import quarantine_table

    if "fednode_quarantine" not in inspect(engine).get_table_names():
        return []
    table = quarantine_table
    stmt = select(table.c.line, table.c.source_key, table.c.reason).where(
        table.c.origin == "notes", table.c.source_file == source[:255]
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for index, key, reason in rows:
        line = done[index - 1].line if isinstance(index, int) and 0 < index <= len(done) else 0
        out.append(QuarantinedRecord(line, key, str(reason)))
    return out


def deidentify_notes_into_cdm(
    settings: Settings,
    notes_path: Path,
    db_url: str | None = None,
    *,
    operator: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """De-identify ``notes_path`` and load it into the CDM at ``db_url`` (default: the site's). Returns the report
    (counts and reasons only): ``deid`` (read, de-identified, quarantined by reason, PHI by label, annotations
    kept/dropped), ``load`` (inserted/updated/unchanged/quarantined), ``loaded`` and ``quarantined`` (totals over both
    stages), ``quarantine_file`` (one JSONL line per quarantined note: line, note id, reason; never text),
    ``seconds``. ``ok`` is false when a note was quarantined or none was loaded.
    The inputs are checked first (:func:`check_notes_load`).
    """
    from deid.batch import BatchReport, deidentify_lines, read_lines
    from deid.files import options_from_settings, split_outcomes, write_quarantine
    from omop_etl.db import make_engine
    from omop_etl.notes import DeidentifiedNote, load_notes

    url = check_notes_load(settings, notes_path, db_url, operator)
    options = options_from_settings(settings.deid, operator, persistent=True)
    started = time.perf_counter()
    report = BatchReport()
    outcomes = deidentify_lines(read_lines(notes_path), options, workers=workers or settings.deid.workers)
    done, held = split_outcomes(outcomes, report)
    notes = [
        DeidentifiedNote(
            note_id=r.note_id,
            person_source_value=r.person_source_value,
            note_date=r.note_date,
            title=r.title,
            text=r.text,
            lang=r.lang,
            spans=r.annotations,
        )
        for r in done
    ]
    engine = make_engine(url)
    try:
        load = load_notes(engine, notes, source=notes_path.name)
        held += _load_quarantine(engine, done, notes_path.name) if load.quarantined else []
    finally:
        engine.dispose()
    quarantine_file = write_quarantine(settings.quarantine_dir, notes_path, held)
    seconds = time.perf_counter() - started
    loaded = load.inserted + load.updated + load.unchanged
    log.info(
        "deid.cdm_loaded read=%d deidentified=%d loaded=%d quarantined=%d seconds=%.2f",
        report.read,
        report.deidentified,
        loaded,
        len(held),
        seconds,
    )
    return {
        "ok": loaded > 0 and not held,
        "operator": options.operator,
        "deid": report.to_dict(),
        "load": load.to_dict(),
        "loaded": loaded,
        "quarantined": len(held),
        "quarantine_file": str(quarantine_file) if quarantine_file else None,
        "seconds": round(seconds, 3),
    }
