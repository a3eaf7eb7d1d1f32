"""Small, pure formatting helpers shared by the widgets (times, digests, sizes, states)."""

from __future__ import annotations

from datetime import UTC, datetime

from policies.contracts import JobRecord, JobState

STATE_STYLE: dict[JobState, str] = {
    JobState.PENDING: "bold yellow",
    JobState.APPROVED: "green",
    JobState.REJECTED: "red",
    JobState.RUNNING: "bold cyan",
    JobState.FINISHED: "blue",
    JobState.REFUSED: "bold red",
    JobState.FAILED: "magenta",
}


def when(at: datetime) -> str:
    """A timestamp in UTC, to the minute: ``2026-11-27 23:41Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def short_when(at: datetime) -> str:
    """A timestamp in UTC for narrow columns: ``11-27 23:41``."""
    return at.astimezone(UTC).strftime("%m-%d %H:%M")


def short_digest(digest: str, length: int = 12) -> str:
    """The first ``length`` hex digits of a digest, with ``…`` to say it is cut (nobody types a digest; the
    review's Facts tab shows it whole)."""
    return digest if len(digest) <= length else digest[:length] + "\N{HORIZONTAL ELLIPSIS}"


def size(n_bytes: int) -> str:
    """A byte count for people: ``812 B``, ``3.4 KiB``, ``1.2 MiB``."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def approvals(record: JobRecord) -> str:
    """Approvals given out of those required: ``1/2``."""
    given = sum(1 for a in record.approvals if a.decision == "approve")
    return f"{given}/{record.required_approvals}"
