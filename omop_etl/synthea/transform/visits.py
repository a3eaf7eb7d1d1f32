"""VISIT_OCCURRENCE and VISIT_DETAIL (one of each per encounter) from encounters.csv, each visit linked to the
person's preceding one; records the visits for the events that refer to them.
"""

from __future__ import annotations

from datetime import date

from omop_etl.synthea.parse import parse_datetime
from omop_etl.synthea.rowset import RowSet
from omop_etl.synthea.transform.concepts import EHR, VISIT
from omop_etl.synthea.transform.state import TransformState, Visit, conflicting_ids


def visits(t: TransformState) -> None:
    """A visit occurrence and a visit detail per loadable encounter."""
    enc = t.src["encounters"]
    h = {c: i for i, c in enumerate(enc.header)}
    vo = t.rowset("visit_occurrence")
    vd = t.rowset("visit_detail")
    pending: list[tuple[str, int, int | None, date, date]] = []
    conflicts = conflicting_ids(enc.rows, h["ID"])
    done: set[str] = set()
    for line, r in enc.rows:
        eid = r[h["ID"]]
        if eid in conflicts:
            t.reject("visit_occurrence", "encounters", line, eid, "duplicate_id_conflict")
            continue
        if eid in done:
            continue
        person_id = t.persons.get(r[h["PATIENT"]])
        if person_id is None:
            t.reject("visit_occurrence", "encounters", line, eid, "unknown_patient")
            continue
        try:
            start = parse_datetime(r[h["START"]])
            stop = parse_datetime(r[h["STOP"]]) if r[h["STOP"]] else start
        except ValueError:
            t.reject("visit_occurrence", "encounters", line, eid, "invalid_date")
            continue
        if stop < start:
            t.reject("visit_occurrence", "encounters", line, eid, "end_before_start")
            continue
        reason = t.implausible(person_id, start.date())
        if reason:
            t.reject("visit_occurrence", "encounters", line, eid, reason)
            continue
        done.add(eid)
        klass = r[h["ENCOUNTERCLASS"]]
        concept = VISIT.get(klass, 0)
        if concept == 0:
            t.unmapped["visit_occurrence"][f"ENCOUNTERCLASS:{klass}"] += 1
            t.unmapped_records["visit_occurrence"] += 1
        provider_id = t.providers.get(r[h["PROVIDER"]])
        care_site_id = t.care_sites.get(r[h["ORGANIZATION"]])
        common = {
            "person_id": person_id,
            "provider_id": provider_id,
            "care_site_id": care_site_id,
        }
        vo.add(
            eid,
            {
                **common,
                "visit_concept_id": concept,
                "visit_start_date": start.date(),
                "visit_start_datetime": start,
                "visit_end_date": stop.date(),
                "visit_end_datetime": stop,
                "visit_type_concept_id": EHR,
                "visit_source_value": eid,
                "visit_source_concept_id": 0,
            },
        )
        vd.add(
            eid,
            {
                **common,
                "visit_detail_concept_id": concept,
                "visit_detail_start_date": start.date(),
                "visit_detail_start_datetime": start,
                "visit_detail_end_date": stop.date(),
                "visit_detail_end_datetime": stop,
                "visit_detail_type_concept_id": EHR,
                "visit_detail_source_value": eid,
                "visit_detail_source_concept_id": 0,
            },
        )
        pending.append((eid, person_id, provider_id, start.date(), stop.date()))
    t.assign_ids(vo, "visit_occurrence_id")
    t.assign_ids(vd, "visit_detail_id")
    vd.set_column("visit_occurrence_id", list(vo.column("visit_occurrence_id")))
    for (eid, person_id, provider_id, first, last), visit_id, detail_id in zip(
        pending, vo.column("visit_occurrence_id"), vd.column("visit_detail_id"), strict=True
    ):
        t.visits[eid] = Visit(visit_id, detail_id, person_id, provider_id, first, last)
    _preceding(vo, "visit_occurrence_id", "visit_start_datetime", "preceding_visit_occurrence_id")
    _preceding(vd, "visit_detail_id", "visit_detail_start_datetime", "preceding_visit_detail_id")


def _preceding(rs: RowSet, pk: str, start: str, target: str) -> None:
    ipk, istart, iperson, itarget = rs.pos(pk), rs.pos(start), rs.pos("person_id"), rs.pos(target)
    last: dict[int, int] = {}
    for row in sorted(rs.rows, key=lambda x: (x[iperson], x[istart], x[ipk])):
        row[itarget] = last.get(row[iperson])
        last[row[iperson]] = row[ipk]
