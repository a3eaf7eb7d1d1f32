"""DQD's plausibility checks on one field: its values within the spec's bounds, and its dates in a plausible
order (after birth, before death, start before end, within the visit).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, Table, and_, exists, literal, or_
from sqlalchemy.sql.elements import ColumnClause

from omop_etl.dq.context import DqContext
from omop_etl.dq.spec import threshold


def plausible_values(
    dq: DqContext, row: dict[str, str], t: Table, col: ColumnClause[Any] | Any, name: str, fld: str
) -> None:
    """plausibleValueLow/High: the field's values within the spec's bounds (of the rows where it is set)."""
    is_date = isinstance(col.type, Date) or "date" in fld
    for check, op in (("plausibleValueLow", "lt"), ("plausibleValueHigh", "gt")):
        bound = _bound(row.get(check, ""), is_date, dq.today)
        if bound is None:
            continue
        if isinstance(bound, date):
            lhs, rhs = dq.as_date(col), dq.date_literal(bound)
        else:
            lhs, rhs = col, literal(bound)
        condition = lhs < rhs if op == "lt" else lhs > rhs
        denominator = dq.violations(t, col.is_not(None))
        dq.add(
            check,
            "FIELD",
            name,
            fld,
            dq.violations(t, and_(col.is_not(None), condition)),
            denominator,
            threshold(row, check),
        )


def _bound(text: str, is_date: bool, today: date) -> Any:
    text = text.strip()
    if not text:
        return None
    if "GETDATE()" in text.upper():
        if text.upper().startswith("YEAR("):
            return today.year + 1
        return today + timedelta(days=1)
    match = re.fullmatch(r"'?(\d{4})(\d{2})(\d{2})'?", text)
    if match and is_date:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    try:
        return float(text)
    except ValueError:
        return None


def temporal_checks(dq: DqContext, row: dict[str, str], t: Table, col: Any, name: str, fld: str, total: int) -> None:
    """A date field after its reference date, before its end, within life and within its visit's dates."""
    person, death = dq.table("person"), dq.table("death")
    has_person = "person_id" in t.c and name != "person"
    if row.get("plausibleTemporalAfter") == "Yes" and row.get("plausibleTemporalAfterTableName"):
        other_table = row["plausibleTemporalAfterTableName"].lower()
        other_field = row["plausibleTemporalAfterFieldName"].lower()
        if other_table == name:
            other = t.c[other_field]
            bad = dq.violations(t, and_(col.is_not(None), dq.as_date(col) < dq.as_date(other)))
            dq.add("plausibleTemporalAfter", "FIELD", name, fld, bad, total, threshold(row, "plausibleTemporalAfter"))
        elif other_table == "person" and has_person:
            bad = dq.violations(
                t,
                exists().where(
                    person.c.person_id == t.c.person_id,
                    person.c.birth_datetime.is_not(None),
                    dq.as_date(col) < dq.as_date(person.c.birth_datetime),
                ),
            )
            dq.add("plausibleTemporalAfter", "FIELD", name, fld, bad, total, threshold(row, "plausibleTemporalAfter"))
    if row.get("plausibleStartBeforeEnd") == "Yes" and row.get("plausibleStartBeforeEndFieldName"):
        end = t.c[row["plausibleStartBeforeEndFieldName"].lower()]
        bad = dq.violations(t, and_(col.is_not(None), end.is_not(None), dq.as_date(col) > dq.as_date(end)))
        dq.add("plausibleStartBeforeEnd", "FIELD", name, fld, bad, total, threshold(row, "plausibleStartBeforeEnd"))
    if row.get("plausibleDuringLife") == "Yes" and has_person:
        bad = dq.violations(
            t,
            exists().where(death.c.person_id == t.c.person_id, dq.as_date(col) > dq.plus_days(death.c.death_date, 60)),
        )
        dq.add("plausibleDuringLife", "FIELD", name, fld, bad, total, threshold(row, "plausibleDuringLife"))
    if row.get("plausibleAfterBirth") == "Yes" and has_person:
        bad = dq.violations(
            t,
            exists().where(
                person.c.person_id == t.c.person_id,
                person.c.birth_datetime.is_not(None),
                dq.as_date(col) < dq.as_date(person.c.birth_datetime),
            ),
        )
        dq.add("plausibleAfterBirth", "FIELD", name, fld, bad, total, threshold(row, "plausibleAfterBirth"))
    if row.get("plausibleBeforeDeath") == "Yes" and has_person:
        bad = dq.violations(
            t,
            exists().where(death.c.person_id == t.c.person_id, dq.as_date(col) > dq.plus_days(death.c.death_date, 60)),
        )
        dq.add("plausibleBeforeDeath", "FIELD", name, fld, bad, total, threshold(row, "plausibleBeforeDeath"))
    if row.get("withinVisitDates") == "Yes" and "visit_occurrence_id" in t.c:
        vo = dq.table("visit_occurrence")
        with_visit = dq.violations(t, t.c.visit_occurrence_id.is_not(None))
        bad = dq.violations(
            t,
            exists().where(
                vo.c.visit_occurrence_id == t.c.visit_occurrence_id,
                or_(
                    dq.as_date(col) < dq.plus_days(vo.c.visit_start_date, -7),
                    dq.as_date(col) > dq.plus_days(vo.c.visit_end_date, 7),
                ),
            ),
        )
        dq.add("withinVisitDates", "FIELD", name, fld, bad, with_visit, threshold(row, "withinVisitDates"))
