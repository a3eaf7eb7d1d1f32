"""DQD check types run as SQL against the CDM (SQLite or PostgreSQL), each reported as violated rows out of a
denominator, compared with DQD's threshold (percent): a check FAILS when ``100 * violated / denominator`` is
above its threshold; it is NOT_APPLICABLE when its table is empty or the field is absent from the spec. An empty
PERSON, OBSERVATION_PERIOD, CONCEPT or VOCABULARY fails fednode's own ``tableNotEmpty`` check, so a CDM with no
data never passes.

The check kinds live in ``table_checks``, ``field_checks`` (with ``plausibility``) and ``concept_checks``;
``run_dq`` runs them all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from omop_etl.dq.concept_checks import concept_checks
from omop_etl.dq.context import DqContext
from omop_etl.dq.field_checks import field_checks
from omop_etl.dq.report import FAIL, NA, PASS, DqReport
from omop_etl.dq.spec import DqSpec
from omop_etl.dq.table_checks import data_present_checks, table_checks

log = logging.getLogger("fednode.omop_etl.dq")


def run_dq(
    engine: Engine, spec: DqSpec, *, today: date | None = None, progress: Callable[[str], None] | None = None
) -> DqReport:
    """Run every applicable DQD check on the CDM at ``engine``."""
    step = progress or (lambda _m: None)
    with engine.connect() as conn:
        dq = DqContext(conn, spec, today or datetime.now(UTC).date())
        step("table checks")
        data_present_checks(dq)
        table_checks(dq)
        step("field checks")
        field_checks(dq)
        step("concept checks")
        concept_checks(dq)
    summary = dq.report.summary()
    log.info("dq.done passed=%d failed=%d not_applicable=%d", summary[PASS], summary[FAIL], summary[NA])
    return dq.report
