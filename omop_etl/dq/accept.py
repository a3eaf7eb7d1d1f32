"""Accepted failures: a site's written record of checks that fail for a known, explained reason.

One check a line, ``<checkName> <table>[.<field>][@<conceptId>]  # <reason>``; the reason is required.
An accepted check still shows its numbers, with status ``accepted`` and the reason, and no longer fails the
gate. Blank lines and lines starting with ``#`` are ignored.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from fednode.errors import EtlInputError
from omop_etl.dq.report import FAIL, CheckResult, DqReport

ACCEPTED = "accepted"
_LINE = re.compile(
    r"^(?P<check>\w+)\s+(?P<table>\w+)(?:\.(?P<field>\w+))?(?:@(?P<concept>[\d,]+))?\s+#\s*(?P<reason>\S.*)$"
)

Key = tuple[str, str, str | None, str | None]


def read_accepted(path: Path) -> dict[Key, str]:
    """``{(check, table, field, concept): reason}`` from ``path``."""
    accepted: dict[Key, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise EtlInputError(
                "expected '<check> <table>[.<field>][@<concept>]  # <reason>'", file=path.name, line=number
            )
        key = (match["check"], match["table"].lower(), match["field"], match["concept"])
        accepted[key] = match["reason"].strip()
    return accepted


def _reason(accepted: dict[Key, str], result: CheckResult) -> str | None:
    """An entry without a field matches the check on any field of its table."""
    exact = accepted.get((result.check, result.table, result.field, result.concept_id))
    if exact is not None:
        return exact
    return accepted.get((result.check, result.table, None, result.concept_id))


def apply_accepted(report: DqReport, accepted: dict[Key, str]) -> DqReport:
    """A copy of ``report`` with the accepted failures marked ``accepted``."""
    out = DqReport()
    for result in report.results:
        reason = _reason(accepted, result)
        if result.status == FAIL and reason is not None:
            result = replace(result, status=ACCEPTED, note=reason)
        out.results.append(result)
    return out
