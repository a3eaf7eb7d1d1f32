"""DQD's table-level checks: the table exists; person completeness; condition-era completeness; overlapping
observation periods. And fednode's own ``tableNotEmpty``: a CDM without persons, observation periods or
concepts fails the gate (DQD's checks are all ``not_applicable`` on empty tables, which would otherwise pass).
"""

from __future__ import annotations

from sqlalchemy import and_, distinct, exists, func, not_, select

from omop_etl.cdm import Base
from omop_etl.dq.context import DqContext
from omop_etl.dq.report import FAIL, PASS, CheckResult
from omop_etl.dq.spec import threshold

NOT_EMPTY = "tableNotEmpty"
"""fednode's check (not DQD's) that a table the appliance needs holds data; it can never be accepted."""
REQUIRED_DATA = ("person", "observation_period", "concept", "vocabulary")
"""The tables a CDM needs rows in to be worth checking (``concept``: a concept besides 0, "No matching
concept")."""


def data_present_checks(dq: DqContext) -> None:
    """``tableNotEmpty`` for each of :data:`REQUIRED_DATA`: FAIL (violated 1 of 1) when the table is empty or
    absent."""
    for name in REQUIRED_DATA:
        if name not in dq.present:
            rows = 0
        elif name == "concept":
            concept = dq.table("concept")
            rows = dq.count(select(func.count()).select_from(concept).where(concept.c.concept_id != 0))
        else:
            rows = dq.rows(name)
        empty = rows == 0
        dq.report.results.append(
            CheckResult(
                NOT_EMPTY,
                "TABLE",
                name,
                None,
                None,
                int(empty),
                1,
                100.0 if empty else 0.0,
                0.0,
                FAIL if empty else PASS,
                f"{name} is empty: load data with fednode etl" if empty else "",
            )
        )


def table_checks(dq: DqContext) -> None:
    """Per CDM table: present, and the table-level measures the spec asks for."""
    for row in dq.spec.tables:
        name = row["cdmTableName"].lower()
        if name not in Base.metadata.tables:
            continue
        dq.add("cdmTable", "TABLE", name, None, 0 if name in dq.present else 1, 1, 0.0)
        if row.get("measurePersonCompleteness") == "Yes" and name in dq.present:
            persons = dq.rows("person")
            t = dq.table(name)
            person = dq.table("person")
            missing = dq.violations(person, not_(exists().where(t.c.person_id == person.c.person_id)))
            dq.add(
                "measurePersonCompleteness",
                "TABLE",
                name,
                None,
                missing,
                persons,
                threshold(row, "measurePersonCompleteness"),
            )
        if row.get("measureConditionEraCompleteness") == "Yes":
            co, ce = dq.table("condition_occurrence"), dq.table("condition_era")
            persons = dq.count(select(func.count(distinct(co.c.person_id))))
            missing = dq.count(
                select(func.count(distinct(co.c.person_id))).where(
                    not_(exists().where(ce.c.person_id == co.c.person_id))
                )
            )
            dq.add(
                "measureConditionEraCompleteness",
                "TABLE",
                name,
                None,
                missing,
                persons,
                threshold(row, "measureConditionEraCompleteness"),
            )
        if row.get("measureObservationPeriodOverlap") == "Yes":
            op = dq.table("observation_period")
            a, b = op.alias("a"), op.alias("b")
            overlapping = dq.count(
                select(func.count(distinct(a.c.person_id))).select_from(
                    a.join(
                        b,
                        and_(
                            a.c.person_id == b.c.person_id,
                            a.c.observation_period_id != b.c.observation_period_id,
                            a.c.observation_period_start_date <= dq.plus_days(b.c.observation_period_end_date, 1),
                            b.c.observation_period_start_date <= dq.plus_days(a.c.observation_period_end_date, 1),
                        ),
                    )
                )
            )
            persons = dq.count(select(func.count(distinct(op.c.person_id))))
            dq.add(
                "measureObservationPeriodOverlap",
                "TABLE",
                name,
                None,
                overlapping,
                persons,
                threshold(row, "measureObservationPeriodOverlap"),
            )
