"""Site data glue: raw notes JSONL -> de-identified NOTE + re-aligned NOTE_NLP (the only way notes enter the CDM).

Raw text never reaches the database: each note is de-identified in memory (:mod:`deid`), its gold annotations are
moved through the offset map, and only then :func:`omop_etl.notes.load_notes` writes it, in one transaction.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fednode.settings import Settings

log = logging.getLogger("fednode.node.site.notes")


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
    kept/dropped), ``load`` (inserted/updated/unchanged/quarantined), ``quarantine_file``, ``seconds``.
    """
    from sqlalchemy import create_engine

    from deid.batch import BatchReport, deidentify_lines, read_lines
    from deid.files import check_input, options_from_settings, split_outcomes, write_quarantine
    from omop_etl.notes import DeidentifiedNote, load_notes

    check_input(notes_path)
    options = options_from_settings(settings.deid, operator)
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
    engine = create_engine(db_url or settings.omop_db_url)
    try:
        load = load_notes(engine, notes, source=notes_path.name)
    finally:
        engine.dispose()
    quarantine_file = write_quarantine(settings.quarantine_dir, notes_path, held)
    seconds = time.perf_counter() - started
    log.info(
        "deid.cdm_loaded read=%d deidentified=%d quarantined=%d seconds=%.2f",
        report.read,
        report.deidentified,
        len(held),
        seconds,
    )
    return {
        "ok": True,
        "operator": options.operator,
        "deid": report.to_dict(),
        "load": load.to_dict(),
        "quarantine_file": str(quarantine_file) if quarantine_file else None,
        "seconds": round(seconds, 3),
    }
