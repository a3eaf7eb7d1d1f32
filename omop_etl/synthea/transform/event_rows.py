"""Reading Synthea's event files (conditions, medications, procedures, ...): each row's stable key, its person
and visit, its dates, with the rows that cannot be loaded quarantined on the way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from omop_etl.synthea.parse import parse_datetime
from omop_etl.synthea.transform.state import TransformState, Visit

EventRow = tuple[int, list[str], dict[str, int], str, str, int, Visit | None, datetime, datetime | None]
"""``(line, row, header, key, code, person_id, visit, start, stop)``"""


def prefetch(t: TransformState) -> None:
    """One batch of vocabulary lookups per file instead of one query per distinct code."""
    plan = (
        ("conditions", "SNOMED"),
        ("procedures", "SNOMED"),
        ("devices", "SNOMED"),
        ("medications", "RxNorm"),
        ("immunizations", "CVX"),
        ("observations", "LOINC"),
    )
    for stem, vocab in plan:
        src = t.src.get(stem)
        if src is not None:
            i = src.index("CODE")
            t.mapper.prefetch(vocab, {r[i] for _, r in src.rows})
    obs = t.src.get("observations")
    if obs is not None:
        i = obs.index("UNITS")
        t.mapper.prefetch("UCUM", {r[i] for _, r in obs.rows})


def event_rows(t: TransformState, table: str, stem: str, start_col: str, stop_col: str | None) -> Iterator[EventRow]:
    """Each good row of an event file with its key, person, visit and dates; bad rows are quarantined here.

    Yields ``(line, row, header, key, code, person_id, visit, start, stop)``.
    """
    h, rows = _rows(t, stem)
    counts: Counter[str] = Counter()
    for line, r in rows:
        patient, encounter, code = r[h["PATIENT"]], r[h["ENCOUNTER"]], r[h["CODE"]]
        key = _keyed(stem, (encounter or patient, code, r[h[start_col]]), counts)
        ctx = _context(t, table, stem, line, key, patient, encounter)
        if ctx is None:
            continue
        person_id, visit = ctx
        stop_s = r[h[stop_col]] if stop_col else None
        span = _interval(t, table, stem, line, key, person_id, r[h[start_col]], stop_s)
        if span is None:
            continue
        yield line, r, h, key, code, person_id, visit, span[0], span[1]


def _rows(t: TransformState, stem: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    src = t.src.get(stem)
    if src is None:
        return {}, []
    return {c: i for i, c in enumerate(src.header)}, src.rows


def _keyed(stem: str, parts: tuple[str, ...], counts: Counter[str]) -> str:
    base = f"{stem}|{'|'.join(parts)}"
    counts[base] += 1
    n = counts[base]
    return base if n == 1 else f"{base}|{n}"


def _context(
    t: TransformState, table: str, stem: str, line: int, key: str, patient: str, encounter: str
) -> tuple[int, Visit | None] | None:
    person_id = t.persons.get(patient)
    if person_id is None:
        t.reject(table, stem, line, key, "unknown_patient")
        return None
    visit = t.visits.get(encounter) if encounter else None
    if encounter and visit is None:
        t.reject(table, stem, line, key, "unknown_encounter")
        return None
    if visit is not None and visit.person_id != person_id:
        t.reject(table, stem, line, key, "encounter_of_other_patient")
        return None
    return person_id, visit


def _interval(
    t: TransformState, table: str, stem: str, line: int, key: str, person_id: int, start_s: str, stop_s: str | None
) -> tuple[datetime, datetime | None] | None:
    try:
        start = parse_datetime(start_s)
        stop = parse_datetime(stop_s) if stop_s else None
    except ValueError:
        t.reject(table, stem, line, key, "invalid_date")
        return None
    if stop is not None and stop.date() < start.date():
        t.reject(table, stem, line, key, "end_before_start")
        return None
    reason = t.implausible(person_id, start.date())
    if reason:
        t.reject(table, stem, line, key, reason)
        return None
    return start, stop
