"""Accepted failures: a site's written record of checks that fail for a known, explained reason.

One check a line, ``<checkName> <table>[.<field>][@<conceptId>]  # <reason>``; the reason is required.
An accepted check still shows its numbers, with status ``accepted`` and the reason, and no longer fails the
gate. Blank lines and lines starting with ``#`` are ignored. ``tableNotEmpty`` (a CDM without data) is never
accepted.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from fednode.errors import EtlInputError
from omop_etl.dq.report import FAIL, CheckResult, DqReport

ACCEPTED = "accepted"
NEVER_ACCEPTED = frozenset({"tableNotEmpty"})
"""Checks no accept file can waive: an empty CDM is never an explained, known failure."""
_LINE = re.compile(
    r"^(?P<check>\w+)\s+(?P<table>\w+)(?:\.(?P<field>\w+))?(?:@(?P<concept>[\d,]+))?\s+#\s*(?P<reason>\S.*)$"
)

Key = tuple[str, str, str | None, str | None]


def read_accepted(path: Path) -> dict[Key, str]:
    """``{(check, table, field, concept): reason}`` from ``path``."""
    if not path.is_file():
        raise EtlInputError("accepted-failures file does not exist", file=str(path))
    data = path.read_bytes()
    accepted: dict[Key, str] = {}
    for number, raw_bytes in enumerate(data.splitlines(), start=1):
        try:
            raw = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raw = "\0"
        if "\0" in raw:
            raise EtlInputError("not a text file (binary or not UTF-8)", file=str(path), line=number)
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise EtlInputError(
                "expected '<check> <table>[.<field>][@<concept>]  # <reason>'", file=str(path), line=number
            )
        key = (match["check"], match["table"].lower(), match["field"], match["concept"])
        accepted[key] = match["reason"].strip()
    if not accepted:
        raise EtlInputError(
            "no accepted check in the file (one '<check> <table>[.<field>][@<concept>]  # <reason>' a line)",
            file=str(path),
        )
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
        if result.status == FAIL and reason is not None and result.check not in NEVER_ACCEPTED:
            result = replace(result, status=ACCEPTED, note=reason)
        out.results.append(result)
    return out
