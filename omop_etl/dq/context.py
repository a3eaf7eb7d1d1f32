"""What every DQ check needs: the connection and spec, the tables present and their row counts, SQL date
arithmetic that works on SQLite and PostgreSQL alike, and ``add``, which scores a check against its threshold.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, Table, cast, func, inspect, literal, select

from omop_etl.cdm import Base
from omop_etl.dq.report import FAIL, NA, PASS, CheckResult, DqReport
from omop_etl.dq.spec import DqSpec


class DqContext:
    """One DQ run against one connection; the checks add their results to ``report``."""

    def __init__(self, conn: Connection, spec: DqSpec, today: date) -> None:
        self.conn = conn
        self.spec = spec
        self.today = today
        self.sqlite = conn.dialect.name == "sqlite"
        self.present = set(inspect(conn).get_table_names())
        self.counts: dict[str, int] = {}
        self.report = DqReport()

    def table(self, name: str) -> Table:
        """The CDM model's table ``name`` (any case)."""
        return Base.metadata.tables[name.lower()]

    def rows(self, name: str) -> int:
        """Rows in table ``name`` (0 when the database lacks it), counted once per run."""
        name = name.lower()
        if name not in self.counts:
            self.counts[name] = (
                int(self.conn.execute(select(func.count()).select_from(self.table(name))).scalar() or 0)
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
        """Record a check: FAIL when more than ``limit`` percent is violated, NOT_APPLICABLE with no denominator."""
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
        """Rows of ``table`` that meet ``condition``."""
        return self.count(select(func.count()).select_from(table).where(condition))
