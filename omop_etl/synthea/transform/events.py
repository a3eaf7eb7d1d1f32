"""The clinical event tables, one function per Synthea file: CONDITION_OCCURRENCE, DRUG_EXPOSURE (medications and
immunizations), PROCEDURE_OCCURRENCE, MEASUREMENT and OBSERVATION (observations, allergies), DEVICE_EXPOSURE.
A record goes to the table of its standard concept's domain where ETL-Synthea routes it so.
"""

from __future__ import annotations

from datetime import datetime

from omop_etl.synthea.parse import parse_float
from omop_etl.synthea.transform.concepts import EHR, SYSTEM_VOCAB
from omop_etl.synthea.transform.event_rows import event_rows, prefetch
from omop_etl.synthea.transform.records import add_measurement, add_observation, add_procedure, visit_fields
from omop_etl.synthea.transform.state import TransformState


def events(t: TransformState) -> None:
    """Every event file, after one batch of vocabulary look-ups per file."""
    prefetch(t)
    _conditions(t)
    _drugs(t, "medications", "START", "STOP", "RxNorm")
    _drugs(t, "immunizations", "DATE", None, "CVX")
    _procedures(t)
    _observations(t)
    _devices(t)
    _allergies(t)


def _conditions(t: TransformState) -> None:
    rs = t.rowset("condition_occurrence")
    for _, _r, _h, key, code, person_id, visit, start, stop in event_rows(
        t, "condition_occurrence", "conditions", "START", "STOP"
    ):
        mapping = t.map_code("condition_occurrence", "SNOMED", code)
        if mapping.domain_id == "Observation":
            add_observation(t, key, person_id, visit, mapping, code, start)
            continue
        if mapping.domain_id == "Measurement":
            add_measurement(t, key, person_id, visit, mapping, code, start)
            continue
        if mapping.domain_id == "Procedure":
            add_procedure(t, key, person_id, visit, mapping, code, start, stop)
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
                **visit_fields(visit),
            },
        )


def _drugs(t: TransformState, stem: str, start_col: str, stop_col: str | None, vocab: str) -> None:
    rs = t.rowset("drug_exposure")
    for _, r, h, key, code, person_id, visit, start, stop in event_rows(t, "drug_exposure", stem, start_col, stop_col):
        end = stop or start
        mapping = t.map_code("drug_exposure", vocab, code)
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
                **visit_fields(visit),
            },
        )


def _days_supply(start: datetime, end: datetime, dispenses: str) -> int:
    """Days one dispensing covers: the exposure's days spread over Synthea's DISPENSES (at least 1)."""
    days = max((end.date() - start.date()).days, 1)
    try:
        count = int(dispenses)
    except ValueError:
        count = 1
    return max(round(days / max(count, 1)), 1)


def _procedures(t: TransformState) -> None:
    for _, _r, _h, key, code, person_id, visit, start, stop in event_rows(
        t, "procedure_occurrence", "procedures", "START", "STOP"
    ):
        mapping = t.map_code("procedure_occurrence", "SNOMED", code)
        if mapping.domain_id == "Measurement":
            add_measurement(t, key, person_id, visit, mapping, code, start)
        elif mapping.domain_id == "Observation":
            add_observation(t, key, person_id, visit, mapping, code, start)
        else:
            add_procedure(t, key, person_id, visit, mapping, code, start, stop)


def _observations(t: TransformState) -> None:
    for line, r, h, key, code, person_id, visit, start, _stop in event_rows(
        t, "measurement", "observations", "DATE", None
    ):
        value, units, kind = r[h["VALUE"]], r[h["UNITS"]], r[h["TYPE"]]
        number: float | None = None
        if kind == "numeric":
            try:
                number = parse_float(value)
            except ValueError:
                t.reject("measurement", "observations", line, key, "non_numeric_value")
                continue
        mapping = t.mapper.map("LOINC", code)
        table = {"Measurement": "measurement", "Observation": "observation"}.get(
            mapping.domain_id or "", "measurement" if kind == "numeric" else "observation"
        )
        if mapping.concept_id == 0:
            t.unmapped[table][f"LOINC:{code}"] += 1
            t.unmapped_records[table] += 1
        if table == "measurement":
            add_measurement(t, key, person_id, visit, mapping, code, start, number, value, units)
        else:
            add_observation(t, key, person_id, visit, mapping, code, start, value, units)


def _devices(t: TransformState) -> None:
    rs = t.rowset("device_exposure")
    for _, r, h, key, code, person_id, visit, start, stop in event_rows(
        t, "device_exposure", "devices", "START", "STOP"
    ):
        mapping = t.map_code("device_exposure", "SNOMED", code)
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
                **visit_fields(visit),
            },
        )


def _allergies(t: TransformState) -> None:
    for _, r, h, key, code, person_id, visit, start, _stop in event_rows(
        t, "observation", "allergies", "START", "STOP"
    ):
        vocab = SYSTEM_VOCAB.get(r[h["SYSTEM"]], r[h["SYSTEM"]])
        mapping = t.map_code("observation", vocab, code)
        add_observation(t, key, person_id, visit, mapping, code, start)
