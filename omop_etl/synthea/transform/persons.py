"""PERSON and DEATH from patients.csv; records each person's birth and death date for the later steps."""

from __future__ import annotations

from datetime import date, datetime

from omop_etl.synthea.parse import MIN_DATE, parse_datetime
from omop_etl.synthea.transform.concepts import EHR, ETHNICITY, GENDER, RACE
from omop_etl.synthea.transform.state import TransformState, conflicting_ids


def persons_and_deaths(t: TransformState) -> None:
    """A person per patient with a plausible birth (and death) date; a death row per deceased person."""
    patients = t.src["patients"]
    h = {c: i for i, c in enumerate(patients.header)}
    conflicts = conflicting_ids(patients.rows, h["ID"])
    rs = t.rowset("person")
    deaths: list[tuple[str, date, datetime]] = []
    done: set[str] = set()
    for line, r in patients.rows:
        pid = r[h["ID"]]
        if pid in conflicts:
            t.reject("person", "patients", line, pid, "duplicate_id_conflict")
            continue
        if pid in done:
            continue
        try:
            born = parse_datetime(r[h["BIRTHDATE"]])
            died = parse_datetime(r[h["DEATHDATE"]]) if r[h["DEATHDATE"]] else None
        except ValueError:
            t.reject("person", "patients", line, pid, "invalid_date")
            continue
        if born.date() < MIN_DATE or born.date() > t.today:
            t.reject("person", "patients", line, pid, "implausible_date")
            continue
        if died is not None and died < born:
            t.reject("person", "patients", line, pid, "death_before_birth")
            continue
        done.add(pid)
        race, ethnicity, gender = r[h["RACE"]], r[h["ETHNICITY"]], r[h["GENDER"]]
        rs.add(
            pid,
            {
                "gender_concept_id": GENDER.get(gender, 0),
                "year_of_birth": born.year,
                "month_of_birth": born.month,
                "day_of_birth": born.day,
                "birth_datetime": born,
                "race_concept_id": RACE.get(race, 0),
                "ethnicity_concept_id": ETHNICITY.get(ethnicity, 0),
                "location_id": t.location_ids.get(f"patient:{pid}"),
                "person_source_value": pid,
                "gender_source_value": gender or None,
                "gender_source_concept_id": 0,
                "race_source_value": race or None,
                "race_source_concept_id": 0,
                "ethnicity_source_value": ethnicity or None,
                "ethnicity_source_concept_id": 0,
            },
        )
        if died is not None:
            deaths.append((pid, died.date(), died))
    t.assign_ids(rs, "person_id")
    t.persons = dict(zip(rs.keys, rs.column("person_id"), strict=True))
    births = rs.pos("birth_datetime")
    for person_id, row in zip(rs.column("person_id"), rs.rows, strict=True):
        t.birth[person_id] = row[births].date()
    death = t.rowset("death")
    for pid, day, moment in deaths:
        person_id = t.persons[pid]
        t.death[person_id] = day
        death.add(
            pid,
            {
                "person_id": person_id,
                "death_date": day,
                "death_datetime": moment,
                "death_type_concept_id": EHR,
            },
        )
