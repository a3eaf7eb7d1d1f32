"""LOCATION, CARE_SITE and PROVIDER from organizations.csv, patients.csv and providers.csv."""

from __future__ import annotations

from typing import Any

from omop_etl.synthea.parse import parse_float, state_code, zip_code
from omop_etl.synthea.rowset import RowSet
from omop_etl.synthea.transform.concepts import GENDER
from omop_etl.synthea.transform.state import TransformState


def locations_and_care_sites(t: TransformState) -> None:
    """A location per organization and per patient; a care site per organization."""
    loc = t.rowset("location")
    org_rows: list[tuple[str, str]] = []
    orgs = t.src.get("organizations")
    if orgs is not None:
        h = {c: i for i, c in enumerate(orgs.header)}
        seen: dict[str, tuple[str, ...]] = {}
        for line, r in orgs.rows:
            oid = r[h["ID"]]
            lat = lon = None
            try:
                if "LAT" in h and r[h["LAT"]]:
                    lat = parse_float(r[h["LAT"]])
                if "LON" in h and r[h["LON"]]:
                    lon = parse_float(r[h["LON"]])
            except ValueError:
                t.reject("care_site", "organizations", line, oid, "non_numeric_value")
                continue
            if oid in seen:
                if seen[oid] != tuple(r):
                    t.reject("care_site", "organizations", line, oid, "duplicate_id_conflict")
                continue
            seen[oid] = tuple(r)
            org_rows.append((oid, r[h["NAME"]]))
            loc.add(
                f"org:{oid}",
                {
                    "address_1": r[h["ADDRESS"]] or None,
                    "city": r[h["CITY"]] or None,
                    "state": state_code(r[h["STATE"]]),
                    "zip": zip_code(r[h["ZIP"]]),
                    "location_source_value": f"org:{oid}",
                    "latitude": lat,
                    "longitude": lon,
                },
            )
    patients = t.src["patients"]
    h = {c: i for i, c in enumerate(patients.header)}
    for _line, r in patients.rows:
        pid = r[h["ID"]]
        values: dict[str, Any] = {
            "address_1": r[h["ADDRESS"]] or None,
            "city": r[h["CITY"]] or None,
            "state": state_code(r[h["STATE"]]),
            "zip": zip_code(r[h["ZIP"]]),
            "county": r[h["COUNTY"]] or None if "COUNTY" in h else None,
            "location_source_value": f"patient:{pid}",
        }
        for column, src in (("latitude", "LAT"), ("longitude", "LON")):
            if src in h and r[h[src]]:
                try:
                    values[column] = parse_float(r[h[src]])
                except ValueError:
                    values[column] = None
        loc.add(f"patient:{pid}", values)
    # a patient listed twice keeps one location row
    _dedupe(loc)
    t.assign_ids(loc, "location_id")
    t.location_ids = dict(zip(loc.keys, loc.column("location_id"), strict=True))
    cs = t.rowset("care_site")
    for oid, name in org_rows:
        cs.add(
            oid,
            {
                "care_site_name": name or None,
                "place_of_service_concept_id": 0,
                "location_id": t.location_ids.get(f"org:{oid}"),
                "care_site_source_value": oid,
            },
        )
    t.assign_ids(cs, "care_site_id")
    t.care_sites = dict(zip(cs.keys, cs.column("care_site_id"), strict=True))


def _dedupe(rs: RowSet) -> None:
    seen: set[str] = set()
    keys: list[str] = []
    rows: list[list[Any]] = []
    for key, row in zip(rs.keys, rs.rows, strict=True):
        if key not in seen:
            seen.add(key)
            keys.append(key)
            rows.append(row)
    rs.keys, rs.rows = keys, rows


def providers(t: TransformState) -> None:
    """A provider per providers.csv row (the file is optional)."""
    prov = t.src.get("providers")
    if prov is None:
        return
    h = {c: i for i, c in enumerate(prov.header)}
    rs = t.rowset("provider")
    seen: dict[str, tuple[str, ...]] = {}
    for line, r in prov.rows:
        pid = r[h["ID"]]
        if pid in seen:
            if seen[pid] != tuple(r):
                t.reject("provider", "providers", line, pid, "duplicate_id_conflict")
            continue
        seen[pid] = tuple(r)
        gender = r[h["GENDER"]]
        rs.add(
            pid,
            {
                "provider_name": r[h["NAME"]] or None,
                "specialty_concept_id": 0,
                "care_site_id": t.care_sites.get(r[h["ORGANIZATION"]]),
                "gender_concept_id": GENDER.get(gender, 0),
                "provider_source_value": pid,
                "specialty_source_value": r[h["SPECIALITY"]] or None,
                "specialty_source_concept_id": 0,
                "gender_source_value": gender or None,
                "gender_source_concept_id": 0,
            },
        )
    t.assign_ids(rs, "provider_id")
    t.providers = dict(zip(rs.keys, rs.column("provider_id"), strict=True))
