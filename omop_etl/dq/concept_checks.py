"""DQD's concept-level checks: records of a sex-specific concept on persons of that gender; a measurement
concept's units and its values in that unit within plausible bounds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, and_, exists

from omop_etl.dq.context import DqContext
from omop_etl.dq.spec import threshold


def concept_checks(dq: DqContext) -> None:
    """Per concept the spec lists: plausible gender; for measurements, plausible units and values."""
    person = dq.table("person")
    gender = {"Male": 8507, "Female": 8532}
    for row in dq.spec.concepts:
        name = row["cdmTableName"].lower()
        fld = row["cdmFieldName"].lower()
        if name not in dq.present or dq.rows(name) == 0:
            continue
        t = dq.table(name)
        col = t.c[fld]
        concept_id = row["conceptId"].replace(" ", "")
        ids = [int(c) for c in concept_id.split(",") if c]
        records = dq.violations(t, col.in_(ids))  # no records: the checks report not_applicable
        if row.get("plausibleGender") in gender:
            wrong = dq.violations(
                t,
                and_(
                    col.in_(ids),
                    exists().where(
                        person.c.person_id == t.c.person_id,
                        person.c.gender_concept_id != gender[row["plausibleGender"]],
                    ),
                ),
            )
            dq.add(
                "plausibleGender",
                "CONCEPT",
                name,
                fld,
                wrong,
                records,
                threshold(row, "plausibleGender"),
                concept_id,
            )
        if name == "measurement":
            _measurement_concept(dq, row, t, col, concept_id, ids)


def _measurement_concept(
    dq: DqContext, row: dict[str, str], t: Table, col: Any, concept_id: str, ids: list[int]
) -> None:
    units = row.get("plausibleUnitConceptIds", "")
    if units:
        allowed = [int(u) for u in units.split(",") if u.strip().lstrip("-").isdigit()]
        records = dq.violations(t, and_(col.in_(ids), t.c.value_as_number.is_not(None)))
        bad = dq.violations(
            t, and_(col.in_(ids), t.c.value_as_number.is_not(None), t.c.unit_concept_id.not_in(allowed))
        )
        dq.add(
            "plausibleUnitConceptIds",
            "CONCEPT",
            "measurement",
            "measurement_concept_id",
            bad,
            records,
            threshold(row, "plausibleUnitConceptIds"),
            concept_id,
        )
    unit = row.get("unitConceptId", "")
    if not unit:
        return
    for check, cmp in (("plausibleValueLow", "lt"), ("plausibleValueHigh", "gt")):
        raw = row.get(check, "")
        try:
            bound = float(raw)
        except ValueError:
            continue
        scope = and_(col.in_(ids), t.c.unit_concept_id == int(unit), t.c.value_as_number.is_not(None))
        records = dq.violations(t, scope)
        value = t.c.value_as_number
        bad = dq.violations(t, and_(scope, value < bound if cmp == "lt" else value > bound))
        dq.add(check, "CONCEPT", "measurement", "value_as_number", bad, records, threshold(row, check), concept_id)
