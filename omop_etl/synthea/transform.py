"""Synthea rows -> CDM rows, as OHDSI ETL-Synthea does it.

Conventions kept: source values (``*_source_value`` holds the Synthea code or id), ``*_source_concept_id`` the
source concept, ``*_concept_id`` the standard concept reached by ``Maps to`` (0 where none exists, counted as
unmapped), type concept 32817 (EHR) on every event, records routed to the table of their standard concept's
domain (a SNOMED "finding" in conditions.csv becomes an OBSERVATION). Rows that cannot be loaded are
quarantined with a reason and never stop the run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from omop_etl.cdm import table as cdm_table
from omop_etl.csvio import Table
from omop_etl.quarantine import QuarantineLog
from omop_etl.synthea.ids import IdAllocator
from omop_etl.synthea.parse import MIN_DATE, parse_datetime, parse_float, state_code, zip_code
from omop_etl.vocab import UNMAPPED, ConceptMapper, Mapping

EHR = 32817
GENDER = {"M": 8507, "F": 8532}
RACE = {"white": 8527, "black": 8516, "asian": 8515, "native": 8657, "hawaiian": 8557}
ETHNICITY = {"hispanic": 38003563, "nonhispanic": 38003564}
VISIT = {
    "ambulatory": 9202,
    "outpatient": 9202,
    "wellness": 9202,
    "emergency": 9203,
    "urgentcare": 9203,
    "inpatient": 9201,
}
SYSTEM_VOCAB = {"SNOMED-CT": "SNOMED", "SNOMED": "SNOMED", "RxNorm": "RxNorm", "LOINC": "LOINC", "CVX": "CVX"}


class RowSet:
    """Rows for one CDM table, in the table's column order, each with its source key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: tuple[str, ...] = tuple(c.name for c in cdm_table(name).columns)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._limits: dict[str, int] = {}
        for c in cdm_table(name).columns:
            length = getattr(c.type, "length", None)
            if length is not None:
                self._limits[c.name] = int(length)
        self._limited = tuple((self._index[c], c, n) for c, n in self._limits.items())
        self.keys: list[str] = []
        self.rows: list[list[Any]] = []
        self.truncated: Counter[str] = Counter()

    def add(self, key: str, values: dict[str, Any]) -> list[Any]:
        get = values.get
        row = [get(c) for c in self.columns]
        for i, column, limit in self._limited:
            value = row[i]
            if value.__class__ is str and len(value) > limit:
                self.truncated[column] += 1
                row[i] = value[:limit]
        self.keys.append(key)
        self.rows.append(row)
        return row

    def set_column(self, column: str, values: list[Any]) -> None:
        i = self._index[column]
        for row, value in zip(self.rows, values, strict=True):
            row[i] = value

    def column(self, column: str) -> Iterator[Any]:
        i = self._index[column]
        return (row[i] for row in self.rows)

    def pos(self, column: str) -> int:
        return self._index[column]


@dataclass
class Transformed:
    """Everything the ETL produced, before it is written."""

    tables: dict[str, RowSet]
    quarantine: QuarantineLog
    unmapped: dict[str, Counter[str]] = field(default_factory=dict)
    unmapped_records: Counter[str] = field(default_factory=Counter)


@dataclass
class _Visit:
    visit_id: int
    detail_id: int
    person_id: int
    provider_id: int | None
    start: date
    end: date
    fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = {
            "visit_occurrence_id": self.visit_id,
            "visit_detail_id": self.detail_id,
            "provider_id": self.provider_id,
        }


_NO_VISIT: dict[str, Any] = {"visit_occurrence_id": None, "visit_detail_id": None, "provider_id": None}


class SyntheaTransformer:
    """Builds every CDM table from the parsed Synthea files, allocating stable ids as it goes."""

    def __init__(self, sources: dict[str, Table], mapper: ConceptMapper, ids: IdAllocator, today: date) -> None:
        self.src = sources
        self.mapper = mapper
        self.ids = ids
        self.today = today
        self.quarantine = QuarantineLog()
        self.out: dict[str, RowSet] = {}
        self.unmapped: dict[str, Counter[str]] = defaultdict(Counter)
        self.unmapped_records: Counter[str] = Counter()
        self.persons: dict[str, int] = {}
        self.birth: dict[int, date] = {}
        self.death: dict[int, date] = {}
        self.care_sites: dict[str, int] = {}
        self.providers: dict[str, int] = {}
        self.visits: dict[str, _Visit] = {}

    # --- helpers -------------------------------------------------------------------------------------------
    def rowset(self, name: str) -> RowSet:
        found = self.out.get(name)
        if found is None:
            found = self.out[name] = RowSet(name)
        return found

    def _bad(self, table: str, stem: str, line: int, key: str | None, reason: str) -> None:
        self.quarantine.add(table, f"{stem}.csv", line, key, reason)

    def _map(self, table: str, vocab: str, code: str) -> Mapping:
        mapping = self.mapper.map(vocab, code) if code else UNMAPPED
        if mapping.concept_id == 0:
            self.unmapped[table][f"{vocab}:{code}"] += 1
            self.unmapped_records[table] += 1
        return mapping

    def _assign_ids(self, rs: RowSet, pk: str) -> None:
        rs.set_column(pk, self.ids.ids(rs.name, rs.keys))

    def _plausible(self, person_id: int, day: date) -> str | None:
        if day < MIN_DATE or day > self.today + timedelta(days=1):
            return "implausible_date"
        if day < self.birth[person_id]:
            return "date_before_birth"
        return None

    # --- health system -------------------------------------------------------------------------------------
    def _locations_and_care_sites(self) -> None:
        loc = self.rowset("location")
        org_rows: list[tuple[str, str]] = []
        orgs = self.src.get("organizations")
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
                    self._bad("care_site", "organizations", line, oid, "non_numeric_value")
                    continue
                if oid in seen:
                    if seen[oid] != tuple(r):
                        self._bad("care_site", "organizations", line, oid, "duplicate_id_conflict")
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
        patients = self.src["patients"]
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
        self._dedupe(loc)
        self._assign_ids(loc, "location_id")
        self.location_ids = dict(zip(loc.keys, loc.column("location_id"), strict=True))
        cs = self.rowset("care_site")
        for oid, name in org_rows:
            cs.add(
                oid,
                {
                    "care_site_name": name or None,
                    "place_of_service_concept_id": 0,
                    "location_id": self.location_ids.get(f"org:{oid}"),
                    "care_site_source_value": oid,
                },
            )
        self._assign_ids(cs, "care_site_id")
        self.care_sites = dict(zip(cs.keys, cs.column("care_site_id"), strict=True))

    @staticmethod
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

    def _providers(self) -> None:
        prov = self.src.get("providers")
        if prov is None:
            return
        h = {c: i for i, c in enumerate(prov.header)}
        rs = self.rowset("provider")
        seen: dict[str, tuple[str, ...]] = {}
        for line, r in prov.rows:
            pid = r[h["ID"]]
            if pid in seen:
                if seen[pid] != tuple(r):
                    self._bad("provider", "providers", line, pid, "duplicate_id_conflict")
                continue
            seen[pid] = tuple(r)
            gender = r[h["GENDER"]]
            rs.add(
                pid,
                {
                    "provider_name": r[h["NAME"]] or None,
                    "specialty_concept_id": 0,
                    "care_site_id": self.care_sites.get(r[h["ORGANIZATION"]]),
                    "gender_concept_id": GENDER.get(gender, 0),
                    "provider_source_value": pid,
                    "specialty_source_value": r[h["SPECIALITY"]] or None,
                    "specialty_source_concept_id": 0,
                    "gender_source_value": gender or None,
                    "gender_source_concept_id": 0,
                },
            )
        self._assign_ids(rs, "provider_id")
        self.providers = dict(zip(rs.keys, rs.column("provider_id"), strict=True))

    # --- person, death -------------------------------------------------------------------------------------
    def _persons(self) -> None:
        patients = self.src["patients"]
        h = {c: i for i, c in enumerate(patients.header)}
        conflicts = _conflicting_ids(patients.rows, h["ID"])
        rs = self.rowset("person")
        deaths: list[tuple[str, date, datetime]] = []
        done: set[str] = set()
        for line, r in patients.rows:
            pid = r[h["ID"]]
            if pid in conflicts:
                self._bad("person", "patients", line, pid, "duplicate_id_conflict")
                continue
            if pid in done:
                continue
            try:
                born = parse_datetime(r[h["BIRTHDATE"]])
                died = parse_datetime(r[h["DEATHDATE"]]) if r[h["DEATHDATE"]] else None
            except ValueError:
                self._bad("person", "patients", line, pid, "invalid_date")
                continue
            if born.date() < MIN_DATE or born.date() > self.today:
                self._bad("person", "patients", line, pid, "implausible_date")
                continue
            if died is not None and died < born:
                self._bad("person", "patients", line, pid, "death_before_birth")
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
                    "location_id": self.location_ids.get(f"patient:{pid}"),
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
        self._assign_ids(rs, "person_id")
        self.persons = dict(zip(rs.keys, rs.column("person_id"), strict=True))
        births = rs.pos("birth_datetime")
        for person_id, row in zip(rs.column("person_id"), rs.rows, strict=True):
            self.birth[person_id] = row[births].date()
        death = self.rowset("death")
        for pid, day, moment in deaths:
            person_id = self.persons[pid]
            self.death[person_id] = day
            death.add(
                pid,
                {
                    "person_id": person_id,
                    "death_date": day,
                    "death_datetime": moment,
                    "death_type_concept_id": EHR,
                },
            )

    # --- visits --------------------------------------------------------------------------------------------
    def _visits(self) -> None:
        enc = self.src["encounters"]
        h = {c: i for i, c in enumerate(enc.header)}
        vo = self.rowset("visit_occurrence")
        vd = self.rowset("visit_detail")
        pending: list[tuple[str, int, int | None, date, date]] = []
        conflicts = _conflicting_ids(enc.rows, h["ID"])
        done: set[str] = set()
        for line, r in enc.rows:
            eid = r[h["ID"]]
            if eid in conflicts:
                self._bad("visit_occurrence", "encounters", line, eid, "duplicate_id_conflict")
                continue
            if eid in done:
                continue
            person_id = self.persons.get(r[h["PATIENT"]])
            if person_id is None:
                self._bad("visit_occurrence", "encounters", line, eid, "unknown_patient")
                continue
            try:
                start = parse_datetime(r[h["START"]])
                stop = parse_datetime(r[h["STOP"]]) if r[h["STOP"]] else start
            except ValueError:
                self._bad("visit_occurrence", "encounters", line, eid, "invalid_date")
                continue
            if stop < start:
                self._bad("visit_occurrence", "encounters", line, eid, "end_before_start")
                continue
            reason = self._plausible(person_id, start.date())
            if reason:
                self._bad("visit_occurrence", "encounters", line, eid, reason)
                continue
            done.add(eid)
            klass = r[h["ENCOUNTERCLASS"]]
            concept = VISIT.get(klass, 0)
            if concept == 0:
                self.unmapped["visit_occurrence"][f"ENCOUNTERCLASS:{klass}"] += 1
                self.unmapped_records["visit_occurrence"] += 1
            provider_id = self.providers.get(r[h["PROVIDER"]])
            care_site_id = self.care_sites.get(r[h["ORGANIZATION"]])
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
        self._assign_ids(vo, "visit_occurrence_id")
        self._assign_ids(vd, "visit_detail_id")
        vd.set_column("visit_occurrence_id", list(vo.column("visit_occurrence_id")))
        for (eid, person_id, provider_id, first, last), visit_id, detail_id in zip(
            pending, vo.column("visit_occurrence_id"), vd.column("visit_detail_id"), strict=True
        ):
            self.visits[eid] = _Visit(visit_id, detail_id, person_id, provider_id, first, last)
        self._preceding(vo, "visit_occurrence_id", "visit_start_datetime", "preceding_visit_occurrence_id")
        self._preceding(vd, "visit_detail_id", "visit_detail_start_datetime", "preceding_visit_detail_id")

    @staticmethod
    def _preceding(rs: RowSet, pk: str, start: str, target: str) -> None:
        ipk, istart, iperson, itarget = rs.pos(pk), rs.pos(start), rs.pos("person_id"), rs.pos(target)
        last: dict[int, int] = {}
        for row in sorted(rs.rows, key=lambda x: (x[iperson], x[istart], x[ipk])):
            row[itarget] = last.get(row[iperson])
            last[row[iperson]] = row[ipk]

    # --- events --------------------------------------------------------------------------------------------
    def _context(
        self, table: str, stem: str, line: int, key: str, patient: str, encounter: str
    ) -> tuple[int, _Visit | None] | None:
        person_id = self.persons.get(patient)
        if person_id is None:
            self._bad(table, stem, line, key, "unknown_patient")
            return None
        visit = self.visits.get(encounter) if encounter else None
        if encounter and visit is None:
            self._bad(table, stem, line, key, "unknown_encounter")
            return None
        if visit is not None and visit.person_id != person_id:
            self._bad(table, stem, line, key, "encounter_of_other_patient")
            return None
        return person_id, visit

    def _keyed(self, stem: str, parts: tuple[str, ...], counts: Counter[str]) -> str:
        base = f"{stem}|{'|'.join(parts)}"
        counts[base] += 1
        n = counts[base]
        return base if n == 1 else f"{base}|{n}"

    def _prefetch(self) -> None:
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
            src = self.src.get(stem)
            if src is not None:
                i = src.index("CODE")
                self.mapper.prefetch(vocab, {r[i] for _, r in src.rows})
        obs = self.src.get("observations")
        if obs is not None:
            i = obs.index("UNITS")
            self.mapper.prefetch("UCUM", {r[i] for _, r in obs.rows})

    def _events(self) -> None:
        self._prefetch()
        self._conditions()
        self._drugs("medications", "START", "STOP", "RxNorm")
        self._drugs("immunizations", "DATE", None, "CVX")
        self._procedures()
        self._observations()
        self._devices()
        self._allergies()

    def _event_rows(
        self, table: str, stem: str, start_col: str, stop_col: str | None
    ) -> Iterator[tuple[int, list[str], dict[str, int], str, str, int, _Visit | None, datetime, datetime | None]]:
        """Each good row of an event file with its key, person, visit and dates; bad rows are quarantined here.

        Yields ``(line, row, header, key, code, person_id, visit, start, stop)``.
        """
        h, rows = self._rows(stem)
        counts: Counter[str] = Counter()
        for line, r in rows:
            patient, encounter, code = r[h["PATIENT"]], r[h["ENCOUNTER"]], r[h["CODE"]]
            key = self._keyed(stem, (encounter or patient, code, r[h[start_col]]), counts)
            ctx = self._context(table, stem, line, key, patient, encounter)
            if ctx is None:
                continue
            person_id, visit = ctx
            stop_s = r[h[stop_col]] if stop_col else None
            span = self._interval(table, stem, line, key, person_id, r[h[start_col]], stop_s)
            if span is None:
                continue
            yield line, r, h, key, code, person_id, visit, span[0], span[1]

    def _interval(
        self, table: str, stem: str, line: int, key: str, person_id: int, start_s: str, stop_s: str | None
    ) -> tuple[datetime, datetime | None] | None:
        try:
            start = parse_datetime(start_s)
            stop = parse_datetime(stop_s) if stop_s else None
        except ValueError:
            self._bad(table, stem, line, key, "invalid_date")
            return None
        if stop is not None and stop.date() < start.date():
            self._bad(table, stem, line, key, "end_before_start")
            return None
        reason = self._plausible(person_id, start.date())
        if reason:
            self._bad(table, stem, line, key, reason)
            return None
        return start, stop

    def _visit_fields(self, visit: _Visit | None) -> dict[str, Any]:
        return _NO_VISIT if visit is None else visit.fields

    def _add_observation(
        self,
        key: str,
        person_id: int,
        visit: _Visit | None,
        mapping: Mapping,
        code: str,
        start: datetime,
        value: str | None = None,
        units: str | None = None,
    ) -> None:
        number: float | None = None
        if value:
            try:
                number = parse_float(value)
            except ValueError:
                number = None
        unit = self._unit(units)
        self.rowset("observation").add(
            key,
            {
                "person_id": person_id,
                "observation_concept_id": mapping.concept_id,
                "observation_date": start.date(),
                "observation_datetime": start,
                "observation_type_concept_id": EHR,
                "value_as_number": number,
                "value_as_string": value if value and number is None else None,
                "unit_concept_id": unit,
                "observation_source_value": code,
                "observation_source_concept_id": mapping.source_concept_id,
                "unit_source_value": units or None,
                "value_source_value": value or None,
                **self._visit_fields(visit),
            },
        )

    def _unit(self, units: str | None) -> int | None:
        """UCUM concept of ``units``; NULL when the source has none, 0 when it has one we cannot map."""
        if not units:
            return None
        return self.mapper.map("UCUM", units).concept_id

    def _add_measurement(
        self,
        key: str,
        person_id: int,
        visit: _Visit | None,
        mapping: Mapping,
        code: str,
        start: datetime,
        number: float | None = None,
        value: str | None = None,
        units: str | None = None,
    ) -> None:
        self.rowset("measurement").add(
            key,
            {
                "person_id": person_id,
                "measurement_concept_id": mapping.concept_id,
                "measurement_date": start.date(),
                "measurement_datetime": start,
                "measurement_type_concept_id": EHR,
                "value_as_number": number,
                "unit_concept_id": self._unit(units),
                "measurement_source_value": code,
                "measurement_source_concept_id": mapping.source_concept_id,
                "unit_source_value": units or None,
                "value_source_value": value or None,
                **self._visit_fields(visit),
            },
        )

    def _add_procedure(
        self,
        key: str,
        person_id: int,
        visit: _Visit | None,
        mapping: Mapping,
        code: str,
        start: datetime,
        stop: datetime | None,
    ) -> None:
        self.rowset("procedure_occurrence").add(
            key,
            {
                "person_id": person_id,
                "procedure_concept_id": mapping.concept_id,
                "procedure_date": start.date(),
                "procedure_datetime": start,
                "procedure_end_date": stop.date() if stop else None,
                "procedure_end_datetime": stop,
                "procedure_type_concept_id": EHR,
                "procedure_source_value": code,
                "procedure_source_concept_id": mapping.source_concept_id,
                **self._visit_fields(visit),
            },
        )

    def _rows(self, stem: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
        src = self.src.get(stem)
        if src is None:
            return {}, []
        return {c: i for i, c in enumerate(src.header)}, src.rows

    def _conditions(self) -> None:
        rs = self.rowset("condition_occurrence")
        for _, _r, _h, key, code, person_id, visit, start, stop in self._event_rows(
            "condition_occurrence", "conditions", "START", "STOP"
        ):
            mapping = self._map("condition_occurrence", "SNOMED", code)
            if mapping.domain_id == "Observation":
                self._add_observation(key, person_id, visit, mapping, code, start)
                continue
            if mapping.domain_id == "Measurement":
                self._add_measurement(key, person_id, visit, mapping, code, start)
                continue
            if mapping.domain_id == "Procedure":
                self._add_procedure(key, person_id, visit, mapping, code, start, stop)
                continue
            rs.add(
                key,
                {
                    "person_id": person_id,
                    "condition_concept_id": mapping.concept_id,
                    "condition_start_date": start.date(),
                    "condition_start_datetime": start,
                    "condition_end_date": stop.date() if stop else None,
                    "condition_end_datetime": stop,
                    "condition_type_concept_id": EHR,
                    "condition_source_value": code,
                    "condition_source_concept_id": mapping.source_concept_id,
                    **self._visit_fields(visit),
                },
            )

    def _drugs(self, stem: str, start_col: str, stop_col: str | None, vocab: str) -> None:
        rs = self.rowset("drug_exposure")
        for _, r, h, key, code, person_id, visit, start, stop in self._event_rows(
            "drug_exposure", stem, start_col, stop_col
        ):
            end = stop or start
            mapping = self._map("drug_exposure", vocab, code)
            rs.add(
                key,
                {
                    "person_id": person_id,
                    "drug_concept_id": mapping.concept_id,
                    "drug_exposure_start_date": start.date(),
                    "drug_exposure_start_datetime": start,
                    "drug_exposure_end_date": end.date(),
                    "drug_exposure_end_datetime": end,
                    "verbatim_end_date": stop.date() if stop else None,
                    "drug_type_concept_id": EHR,
                    "refills": 0,
                    "days_supply": _days_supply(start, end, r[h["DISPENSES"]] if "DISPENSES" in h else ""),
                    "drug_source_value": code,
                    "drug_source_concept_id": mapping.source_concept_id,
                    **self._visit_fields(visit),
                },
            )

    def _procedures(self) -> None:
        for _, _r, _h, key, code, person_id, visit, start, stop in self._event_rows(
            "procedure_occurrence", "procedures", "START", "STOP"
        ):
            mapping = self._map("procedure_occurrence", "SNOMED", code)
            if mapping.domain_id == "Measurement":
                self._add_measurement(key, person_id, visit, mapping, code, start)
            elif mapping.domain_id == "Observation":
                self._add_observation(key, person_id, visit, mapping, code, start)
            else:
                self._add_procedure(key, person_id, visit, mapping, code, start, stop)

    def _observations(self) -> None:
        for line, r, h, key, code, person_id, visit, start, _stop in self._event_rows(
            "measurement", "observations", "DATE", None
        ):
            value, units, kind = r[h["VALUE"]], r[h["UNITS"]], r[h["TYPE"]]
            number: float | None = None
            if kind == "numeric":
                try:
                    number = parse_float(value)
                except ValueError:
                    self._bad("measurement", "observations", line, key, "non_numeric_value")
                    continue
            mapping = self.mapper.map("LOINC", code)
            table = {"Measurement": "measurement", "Observation": "observation"}.get(
                mapping.domain_id or "", "measurement" if kind == "numeric" else "observation"
            )
            if mapping.concept_id == 0:
                self.unmapped[table][f"LOINC:{code}"] += 1
                self.unmapped_records[table] += 1
            if table == "measurement":
                self._add_measurement(key, person_id, visit, mapping, code, start, number, value, units)
            else:
                self._add_observation(key, person_id, visit, mapping, code, start, value, units)

    def _devices(self) -> None:
        rs = self.rowset("device_exposure")
        for _, r, h, key, code, person_id, visit, start, stop in self._event_rows(
            "device_exposure", "devices", "START", "STOP"
        ):
            mapping = self._map("device_exposure", "SNOMED", code)
            rs.add(
                key,
                {
                    "person_id": person_id,
                    "device_concept_id": mapping.concept_id,
                    "device_exposure_start_date": start.date(),
                    "device_exposure_start_datetime": start,
                    "device_exposure_end_date": stop.date() if stop else None,
                    "device_exposure_end_datetime": stop,
                    "device_type_concept_id": EHR,
                    "unique_device_id": r[h["UDI"]] or None,
                    "device_source_value": code,
                    "device_source_concept_id": mapping.source_concept_id,
                    **self._visit_fields(visit),
                },
            )

    def _allergies(self) -> None:
        for _, r, h, key, code, person_id, visit, start, _stop in self._event_rows(
            "observation", "allergies", "START", "STOP"
        ):
            vocab = SYSTEM_VOCAB.get(r[h["SYSTEM"]], r[h["SYSTEM"]])
            mapping = self._map("observation", vocab, code)
            self._add_observation(key, person_id, visit, mapping, code, start)

    # --- the whole -----------------------------------------------------------------------------------------
    def run(self) -> Transformed:
        self._locations_and_care_sites()
        self._providers()
        self._persons()
        self._visits()
        self._events()
        for name, pk in (
            ("condition_occurrence", "condition_occurrence_id"),
            ("drug_exposure", "drug_exposure_id"),
            ("procedure_occurrence", "procedure_occurrence_id"),
            ("measurement", "measurement_id"),
            ("observation", "observation_id"),
            ("device_exposure", "device_exposure_id"),
        ):
            self._assign_ids(self.rowset(name), pk)
        return Transformed(
            tables=self.out,
            quarantine=self.quarantine,
            unmapped=dict(self.unmapped),
            unmapped_records=self.unmapped_records,
        )


def _days_supply(start: datetime, end: datetime, dispenses: str) -> int:
    """Days one dispensing covers: the exposure's days spread over Synthea's DISPENSES (at least 1)."""
    days = max((end.date() - start.date()).days, 1)
    try:
        count = int(dispenses)
    except ValueError:
        count = 1
    return max(round(days / max(count, 1)), 1)


def _conflicting_ids(rows: list[tuple[int, list[str]]], column: int) -> set[str]:
    """Ids that occur on rows that differ (exact repeats are harmless and loaded once)."""
    first: dict[str, list[str]] = {}
    conflicts: set[str] = set()
    for _line, row in rows:
        key = row[column]
        seen = first.get(key)
        if seen is None:
            first[key] = row
        elif seen != row:
            conflicts.add(key)
    return conflicts
