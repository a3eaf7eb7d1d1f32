"""A doctor's finding: one check's name, status, what was measured and what to do about it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

log = logging.getLogger("fednode.node.kit.doctor")

Side = Literal["site", "coordinator"]


class Status(StrEnum):
    """How a check came out. Only ``fail`` makes the doctor exit 1; ``warn`` is worth a look, ``skip`` did not
    apply (its ``measured`` says why)."""

    PASS = "pass"  # noqa: S105  # a status, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One check's finding.

    ``measured`` is what was observed, with numbers (``TCP 127.0.0.1:8002 refused in 0.4 ms``); ``remedy`` what a
    hospital's IT person can do about it (empty when there is nothing to do)."""

    name: str
    status: Status
    measured: str
    remedy: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": str(self.status), "measured": self.measured, "remedy": self.remedy}


def passed(name: str, measured: str) -> Check:
    return Check(name, Status.PASS, measured)


def warned(name: str, measured: str, remedy: str) -> Check:
    return Check(name, Status.WARN, measured, remedy)


def failed(name: str, measured: str, remedy: str) -> Check:
    return Check(name, Status.FAIL, measured, remedy)


def skipped(name: str, why: str, remedy: str = "") -> Check:
    return Check(name, Status.SKIP, why, remedy)


@dataclass(frozen=True)
class Report:
    """Every check of one side, in the order they ran."""

    side: Side
    checks: tuple[Check, ...]

    @property
    def failed(self) -> list[str]:
        """The names of the checks that failed."""
        return [c.name for c in self.checks if c.status is Status.FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {str(s): sum(1 for c in self.checks if c.status is s) for s in Status}

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "side": self.side,
            "failed": self.failed,
            "counts": self.counts(),
            "checks": [c.to_json() for c in self.checks],
        }


def guarded(name: str, check: Callable[[], Check | Iterable[Check]]) -> list[Check]:
    """Run one check; a check that breaks is a failed check naming the exception (never a crashed doctor)."""
    try:
        result = check()
    except Exception as exc:  # a doctor reports every problem, its own included
        log.debug("doctor.check_crashed name=%s", name, exc_info=True)
        return [failed(name, f"the check itself failed: {type(exc).__name__}: {exc}", "report this to fednode")]
    return [result] if isinstance(result, Check) else list(result)
