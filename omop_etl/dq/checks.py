"""DQD check types run as SQL against the CDM (SQLite or PostgreSQL), each reported as violated rows out of a
denominator, compared with DQD's threshold (percent): a check FAILS when ``100 * violated / denominator`` is
above its threshold; it is NOT_APPLICABLE when its table is empty or the field is absent from the spec.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Engine,
    Table,
    and_,
    cast,
    distinct,
    exists,
    func,
    inspect,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnClause

from omop_etl.cdm import Base
from omop_etl.dq.spec import DqSpec, threshold

log = logging.getLogger("fednode.omop_etl.dq")

PASS, FAIL, NA = "pass", "fail", "not_applicable"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome."""

    check: str
    level: str
    table: str
    field: str | None
    concept_id: str | None
    violated: int
    denominator: int
    pct_violated: float
    threshold: float
    status: str
    note: str = ""


@dataclass
class DqReport:
    """All checks, and whether the gate passes (no check failed)."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failed

    def summary(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, NA: 0, "accepted": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.passed,
            "summary": self.summary(),
            "failed": [asdict(r) for r in self.failed],
            "checks": [asdict(r) for r in self.results],
        }


class _Dq:
    def __init__(self, conn: Connection, spec: DqSpec, today: date) -> None:
        self.conn = conn
        self.spec = spec
        self.today = today
        self.sqlite = conn.dialect.name == "sqlite"
        self.present = set(inspect(conn).get_table_names())
        self.counts: dict[str, int] = {}
        self.report = DqReport()

    # --- helpers -------------------------------------------------------------------------------------------
    def t(self, name: str) -> Table:
        return Base.metadata.tables[name.lower()]

    def rows(self, name: str) -> int:
        name = name.lower()
        if name not in self.counts:
            self.counts[name] = (
                int(self.conn.execute(select(func.count()).select_from(self.t(name))).scalar() or 0)
                if name in self.present
                else 0
            )
        return self.counts[name]

    def as_date(self, col: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.date(col) if self.sqlite else cast(col, Date)

    def plus_days(self, col: ColumnElement[Any], days: int) -> ColumnElement[Any]:
        if self.sqlite:
            return func.date(col, f"{days:+d} days")
        return cast(col, Date) + days

    def date_literal(self, day: date) -> ColumnElement[Any]:
        return literal(day.isoformat()) if self.sqlite else literal(day, Date)

    def add(
        self,
        check: str,
        level: str,
        table: str,
        fld: str | None,
        violated: int,
        denominator: int,
        limit: float,
        concept_id: str | None = None,
    ) -> None:
        if denominator == 0:
            status, pct = NA, 0.0
        else:
            pct = 100.0 * violated / denominator
            status = FAIL if pct > limit else PASS
        self.report.results.append(
            CheckResult(
                check, level, table.lower(), fld, concept_id, violated, denominator, round(pct, 4), limit, status
            )
        )

    def count(self, stmt: Any) -> int:
        return int(self.conn.execute(stmt).scalar() or 0)

    def violations(self, table: Table, condition: ColumnElement[bool]) -> int:
        return self.count(select(func.count()).select_from(table).where(condition))

    # --- table level ---------------------------------------------------------------------------------------
    def table_checks(self) -> None:
        for row in self.spec.tables:
            name = row["cdmTableName"].lower()
            if name not in Base.metadata.tables:
                continue
            self.add("cdmTable", "TABLE", name, None, 0 if name in self.present else 1, 1, 0.0)
            if row.get("measurePersonCompleteness") == "Yes" and name in self.present:
                persons = self.rows("person")
                t = self.t(name)
                person = self.t("person")
                missing = self.violations(person, not_(exists().where(t.c.person_id == person.c.person_id)))
                self.add(
                    "measurePersonCompleteness",
                    "TABLE",
                    name,
                    None,
                    missing,
                    persons,
                    threshold(row, "measurePersonCompleteness"),
                )
            if row.get("measureConditionEraCompleteness") == "Yes":
                co, ce = self.t("condition_occurrence"), self.t("condition_era")
                persons = self.count(select(func.count(distinct(co.c.person_id))))
                missing = self.count(
                    select(func.count(distinct(co.c.person_id))).where(
                        not_(exists().where(ce.c.person_id == co.c.person_id))
                    )
                )
                self.add(
                    "measureConditionEraCompleteness",
                    "TABLE",
                    name,
                    None,
                    missing,
                    persons,
                    threshold(row, "measureConditionEraCompleteness"),
                )
            if row.get("measureObservationPeriodOverlap") == "Yes":
                op = self.t("observation_period")
                a, b = op.alias("a"), op.alias("b")
                overlapping = self.count(
                    select(func.count(distinct(a.c.person_id))).select_from(
                        a.join(
                            b,
                            and_(
                                a.c.person_id == b.c.person_id,
                                a.c.observation_period_id != b.c.observation_period_id,
                                a.c.observation_period_start_date <= self.plus_days(b.c.observation_period_end_date, 1),
                                b.c.observation_period_start_date <= self.plus_days(a.c.observation_period_end_date, 1),
                            ),
                        )
                    )
                )
                persons = self.count(select(func.count(distinct(op.c.person_id))))
                self.add(
                    "measureObservationPeriodOverlap",
                    "TABLE",
                    name,
                    None,
                    overlapping,
                    persons,
                    threshold(row, "measureObservationPeriodOverlap"),
                )

    # --- field level ---------------------------------------------------------------------------------------
    def field_checks(self) -> None:
        concept = self.t("concept")
        for row in self.spec.fields:
            name = row["cdmTableName"].lower()
            fld = row["cdmFieldName"].lower().strip('"')
            if name not in Base.metadata.tables:
                continue
            t = self.t(name)
            if name not in self.present:
                continue
            exists_in_db = fld in {c["name"] for c in inspect(self.conn).get_columns(name)}
            self.add("cdmField", "FIELD", name, fld, 0 if exists_in_db else 1, 1, 0.0)
            if not exists_in_db or fld not in t.c:
                continue
            col = t.c[fld]
            total = self.rows(name)
            if total == 0:
                continue
            nonnull = and_(col.is_not(None))
            if row.get("isRequired") == "Yes":
                self.add(
                    "isRequired",
                    "FIELD",
                    name,
                    fld,
                    self.violations(t, col.is_(None)),
                    total,
                    threshold(row, "isRequired"),
                )
            if row.get("cdmDatatype") == "integer":
                bad = (
                    self.violations(t, func.typeof(col).not_in(("integer", "null")))
                    if self.sqlite
                    else self._pg_type_bad(name, fld)
                )
                self.add("cdmDatatype", "FIELD", name, fld, bad, total, threshold(row, "cdmDatatype"))
            if row.get("isPrimaryKey") == "Yes":
                dup_values = select(col).where(nonnull).group_by(col).having(func.count() > 1)
                dups = self.violations(t, col.in_(dup_values))
                self.add("isPrimaryKey", "FIELD", name, fld, dups, total, threshold(row, "isPrimaryKey"))
            fk_table = row.get("fkTableName", "").lower()
            if row.get("isForeignKey") == "Yes" and fk_table in Base.metadata.tables and fk_table in self.present:
                ft = self.t(fk_table).alias("fk")  # aliased: a self-reference must not correlate to the row itself
                fc = ft.c[row["fkFieldName"].lower()]
                bad = self.violations(t, and_(nonnull, not_(exists().where(fc == col))))
                self.add("isForeignKey", "FIELD", name, fld, bad, total, threshold(row, "isForeignKey"))
            if row.get("fkDomain"):
                domains = [d.strip() for d in row["fkDomain"].split(",")]
                bad = self.violations(
                    t,
                    exists().where(
                        concept.c.concept_id == col, concept.c.concept_id != 0, concept.c.domain_id.not_in(domains)
                    ),
                )
                self.add("fkDomain", "FIELD", name, fld, bad, total, threshold(row, "fkDomain"))
            if row.get("fkClass"):
                classes = [c.strip() for c in row["fkClass"].split(",")]
                bad = self.violations(
                    t,
                    exists().where(
                        concept.c.concept_id == col,
                        concept.c.concept_id != 0,
                        concept.c.concept_class_id.not_in(classes),
                    ),
                )
                self.add("fkClass", "FIELD", name, fld, bad, total, threshold(row, "fkClass"))
            if row.get("isStandardValidConcept") == "Yes":
                bad = self.violations(
                    t,
                    exists().where(
                        concept.c.concept_id == col,
                        concept.c.concept_id != 0,
                        or_(
                            concept.c.standard_concept.is_(None),
                            concept.c.standard_concept != "S",
                            concept.c.invalid_reason.is_not(None),
                        ),
                    ),
                )
                self.add(
                    "isStandardValidConcept", "FIELD", name, fld, bad, total, threshold(row, "isStandardValidConcept")
                )
            if row.get("measureValueCompleteness") == "Yes":
                self.add(
                    "measureValueCompleteness",
                    "FIELD",
                    name,
                    fld,
                    self.violations(t, col.is_(None)),
                    total,
                    threshold(row, "measureValueCompleteness"),
                )
            for check in ("standardConceptRecordCompleteness", "sourceConceptRecordCompleteness"):
                if row.get(check) == "Yes":
                    self.add(check, "FIELD", name, fld, self.violations(t, col == 0), total, threshold(row, check))
            if row.get("sourceValueCompleteness") == "Yes" and row.get("standardConceptFieldName"):
                std = t.c[row["standardConceptFieldName"].lower()]
                distinct_total = self.count(select(func.count(distinct(col))).where(nonnull))
                unmapped = self.count(select(func.count(distinct(col))).where(nonnull, std == 0))
                self.add(
                    "sourceValueCompleteness",
                    "FIELD",
                    name,
                    fld,
                    unmapped,
                    distinct_total,
                    threshold(row, "sourceValueCompleteness"),
                )
            self._plausible_value(row, t, col, name, fld, total)
            self._temporal(row, t, col, name, fld, total)

    def _pg_type_bad(self, table: str, fld: str) -> int:
        kinds = {c["name"]: str(c["type"]).lower() for c in inspect(self.conn).get_columns(table)}
        return 0 if kinds.get(fld, "").startswith(("integer", "bigint", "smallint")) else self.rows(table)

    def _bound(self, text: str, is_date: bool) -> Any:
        text = text.strip()
        if not text:
            return None
        if "GETDATE()" in text.upper():
            if text.upper().startswith("YEAR("):
                return self.today.year + 1
            return self.today + timedelta(days=1)
        match = re.fullmatch(r"'?(\d{4})(\d{2})(\d{2})'?", text)
        if match and is_date:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        try:
            return float(text)
        except ValueError:
            return None

    def _plausible_value(
        self, row: dict[str, str], t: Table, col: ColumnClause[Any] | Any, name: str, fld: str, total: int
    ) -> None:
        is_date = isinstance(col.type, Date) or "date" in fld
        for check, op in (("plausibleValueLow", "lt"), ("plausibleValueHigh", "gt")):
            bound = self._bound(row.get(check, ""), is_date)
            if bound is None:
                continue
            if isinstance(bound, date):
                lhs, rhs = self.as_date(col), self.date_literal(bound)
            else:
                lhs, rhs = col, literal(bound)
            condition = lhs < rhs if op == "lt" else lhs > rhs
            denominator = self.violations(t, col.is_not(None))
            self.add(
                check,
                "FIELD",
                name,
                fld,
                self.violations(t, and_(col.is_not(None), condition)),
                denominator,
                threshold(row, check),
            )

    def _temporal(self, row: dict[str, str], t: Table, col: Any, name: str, fld: str, total: int) -> None:
        person, death = self.t("person"), self.t("death")
        has_person = "person_id" in t.c and name != "person"
        if row.get("plausibleTemporalAfter") == "Yes" and row.get("plausibleTemporalAfterTableName"):
            other_table = row["plausibleTemporalAfterTableName"].lower()
            other_field = row["plausibleTemporalAfterFieldName"].lower()
            if other_table == name:
                other = t.c[other_field]
                bad = self.violations(t, and_(col.is_not(None), self.as_date(col) < self.as_date(other)))
                self.add(
                    "plausibleTemporalAfter", "FIELD", name, fld, bad, total, threshold(row, "plausibleTemporalAfter")
                )
            elif other_table == "person" and has_person:
                bad = self.violations(
                    t,
                    exists().where(
                        person.c.person_id == t.c.person_id,
                        person.c.birth_datetime.is_not(None),
                        self.as_date(col) < self.as_date(person.c.birth_datetime),
                    ),
                )
                self.add(
                    "plausibleTemporalAfter", "FIELD", name, fld, bad, total, threshold(row, "plausibleTemporalAfter")
                )
        if row.get("plausibleStartBeforeEnd") == "Yes" and row.get("plausibleStartBeforeEndFieldName"):
            end = t.c[row["plausibleStartBeforeEndFieldName"].lower()]
            bad = self.violations(t, and_(col.is_not(None), end.is_not(None), self.as_date(col) > self.as_date(end)))
            self.add(
                "plausibleStartBeforeEnd", "FIELD", name, fld, bad, total, threshold(row, "plausibleStartBeforeEnd")
            )
        if row.get("plausibleDuringLife") == "Yes" and has_person:
            bad = self.violations(
                t,
                exists().where(
                    death.c.person_id == t.c.person_id, self.as_date(col) > self.plus_days(death.c.death_date, 60)
                ),
            )
            self.add("plausibleDuringLife", "FIELD", name, fld, bad, total, threshold(row, "plausibleDuringLife"))
        if row.get("plausibleAfterBirth") == "Yes" and has_person:
            bad = self.violations(
                t,
                exists().where(
                    person.c.person_id == t.c.person_id,
                    person.c.birth_datetime.is_not(None),
                    self.as_date(col) < self.as_date(person.c.birth_datetime),
                ),
            )
            self.add("plausibleAfterBirth", "FIELD", name, fld, bad, total, threshold(row, "plausibleAfterBirth"))
        if row.get("plausibleBeforeDeath") == "Yes" and has_person:
            bad = self.violations(
                t,
                exists().where(
                    death.c.person_id == t.c.person_id, self.as_date(col) > self.plus_days(death.c.death_date, 60)
                ),
            )
            self.add("plausibleBeforeDeath", "FIELD", name, fld, bad, total, threshold(row, "plausibleBeforeDeath"))
        if row.get("withinVisitDates") == "Yes" and "visit_occurrence_id" in t.c:
            vo = self.t("visit_occurrence")
            with_visit = self.violations(t, t.c.visit_occurrence_id.is_not(None))
            bad = self.violations(
                t,
                exists().where(
                    vo.c.visit_occurrence_id == t.c.visit_occurrence_id,
                    or_(
                        self.as_date(col) < self.plus_days(vo.c.visit_start_date, -7),
                        self.as_date(col) > self.plus_days(vo.c.visit_end_date, 7),
                    ),
                ),
            )
            self.add("withinVisitDates", "FIELD", name, fld, bad, with_visit, threshold(row, "withinVisitDates"))

    # --- concept level -------------------------------------------------------------------------------------
    def concept_checks(self) -> None:
        person = self.t("person")
        gender = {"Male": 8507, "Female": 8532}
        for row in self.spec.concepts:
            name = row["cdmTableName"].lower()
            fld = row["cdmFieldName"].lower()
            if name not in self.present or self.rows(name) == 0:
                continue
            t = self.t(name)
            col = t.c[fld]
            concept_id = row["conceptId"].replace(" ", "")
            ids = [int(c) for c in concept_id.split(",") if c]
            records = self.violations(t, col.in_(ids))  # no records: the checks report not_applicable
            if row.get("plausibleGender") in gender:
                wrong = self.violations(
                    t,
                    and_(
                        col.in_(ids),
                        exists().where(
                            person.c.person_id == t.c.person_id,
                            person.c.gender_concept_id != gender[row["plausibleGender"]],
                        ),
                    ),
                )
                self.add(
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
                self._measurement_concept(row, t, col, concept_id, ids)

    def _measurement_concept(self, row: dict[str, str], t: Table, col: Any, concept_id: str, ids: list[int]) -> None:
        units = row.get("plausibleUnitConceptIds", "")
        if units:
            allowed = [int(u) for u in units.split(",") if u.strip().lstrip("-").isdigit()]
            records = self.violations(t, and_(col.in_(ids), t.c.value_as_number.is_not(None)))
            bad = self.violations(
                t, and_(col.in_(ids), t.c.value_as_number.is_not(None), t.c.unit_concept_id.not_in(allowed))
            )
            self.add(
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
            records = self.violations(t, scope)
            value = t.c.value_as_number
            bad = self.violations(t, and_(scope, value < bound if cmp == "lt" else value > bound))
            self.add(
                check, "CONCEPT", "measurement", "value_as_number", bad, records, threshold(row, check), concept_id
            )


def run_dq(
    engine: Engine, spec: DqSpec, *, today: date | None = None, progress: Callable[[str], None] | None = None
) -> DqReport:
    """Run every applicable DQD check on the CDM at ``engine``."""
    step = progress or (lambda _m: None)
    with engine.connect() as conn:
        dq = _Dq(conn, spec, today or datetime.now(UTC).date())
        step("table checks")
        dq.table_checks()
        step("field checks")
        dq.field_checks()
        step("concept checks")
        dq.concept_checks()
    summary = dq.report.summary()
    log.info("dq.done passed=%d failed=%d not_applicable=%d", summary[PASS], summary[FAIL], summary[NA])
    return dq.report
