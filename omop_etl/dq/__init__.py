"""The data-quality gate: OHDSI DataQualityDashboard check types, driven by DQD's own threshold files."""

from omop_etl.dq.checks import CheckResult, DqReport, run_dq

__all__ = ["CheckResult", "DqReport", "run_dq"]
