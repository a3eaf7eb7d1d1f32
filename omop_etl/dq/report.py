"""A DQ run's outcome: one ``CheckResult`` per check, and the ``DqReport`` that says whether the gate passes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
