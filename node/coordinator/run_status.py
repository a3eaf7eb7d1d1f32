"""How a study ended, in one small file next to its rounds: ``run_status.json`` in the job's run folder.

NVFlare's own job status says only ``FINISHED:COMPLETED`` or ``FINISHED:EXECUTION_EXCEPTION``; this file says why
a study failed (names, counts and reasons only) and travels with the job result that ``fednode study download``
fetches.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUN_STATUS_FILE = "run_status.json"
COMPLETED = "completed"
FAILED = "failed"


@dataclass(frozen=True)
class RunStatus:
    """The end of a study: ``completed`` or ``failed``, the rounds aggregated and, if it failed, why."""

    status: str
    rounds_done: int
    reason: str = ""
    at: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def write_run_status(run_dir: Path, status: str, rounds_done: int, reason: str = "") -> RunStatus:
    """Write ``run_status.json`` into ``run_dir``."""
    record = RunStatus(status, rounds_done, reason, datetime.now(UTC).isoformat(timespec="seconds"))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_STATUS_FILE).write_text(json.dumps(asdict(record), sort_keys=True) + "\n", encoding="utf-8")
    return record


def read_run_status(folder: Path) -> RunStatus | None:
    """The run status in ``folder`` or anywhere below it (a downloaded job result), or ``None``."""
    hits = sorted(folder.rglob(RUN_STATUS_FILE)) if folder.is_dir() else []
    if not hits:
        return None
    try:
        data: Any = json.loads(hits[0].read_text(encoding="utf-8"))
        return RunStatus(str(data["status"]), int(data["rounds_done"]), str(data["reason"]), str(data["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
