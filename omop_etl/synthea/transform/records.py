"""The OBSERVATION, MEASUREMENT and PROCEDURE_OCCURRENCE rows: one builder each, shared by every source file whose
records a concept's domain can route to these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from omop_etl.synthea.parse import parse_float
from omop_etl.synthea.transform.concepts import EHR
from omop_etl.synthea.transform.state import TransformState, Visit
from omop_etl.vocab import Mapping

_NO_VISIT: dict[str, Any] = {"visit_occurrence_id": None, "visit_detail_id": None, "provider_id": None}


def visit_fields(visit: Visit | None) -> dict[str, Any]:
    """The visit columns of an event row (NULL when it happened outside a visit)."""
    return _NO_VISIT if visit is None else visit.fields


def unit_concept(t: TransformState, units: str | None) -> int | None:
    """UCUM concept of ``units``; NULL when the source has none, 0 when it has one we cannot map."""
    if not units:
        return None
    return t.mapper.map("UCUM", units).concept_id


def add_observation(
    t: TransformState,
    key: str,
    person_id: int,
    visit: Visit | None,
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
    unit = unit_concept(t, units)
    t.rowset("observation").add(
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
            **visit_fields(visit),
        },
    )


def add_measurement(
    t: TransformState,
    key: str,
    person_id: int,
    visit: Visit | None,
    mapping: Mapping,
    code: str,
    start: datetime,
    number: float | None = None,
    value: str | None = None,
    units: str | None = None,
) -> None:
    t.rowset("measurement").add(
        key,
        {
            "person_id": person_id,
            "measurement_concept_id": mapping.concept_id,
            "measurement_date": start.date(),
            "measurement_datetime": start,
            "measurement_type_concept_id": EHR,
            "value_as_number": number,
            "unit_concept_id": unit_concept(t, units),
            "measurement_source_value": code,
            "measurement_source_concept_id": mapping.source_concept_id,
            "unit_source_value": units or None,
            "value_source_value": value or None,
            **visit_fields(visit),
        },
    )


def add_procedure(
    t: TransformState,
    key: str,
    person_id: int,
    visit: Visit | None,
    mapping: Mapping,
    code: str,
    start: datetime,
    stop: datetime | None,
) -> None:
    t.rowset("procedure_occurrence").add(
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
            **visit_fields(visit),
        },
    )
