"""The data-quality gate: OHDSI DataQualityDashboard check types, driven by DQD's own threshold files."""

from omop_etl.dq.checks import run_dq
from omop_etl.dq.report import CheckResult, DqReport

__all__ = ["CheckResult", "DqReport", "run_dq"]
