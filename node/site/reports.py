"""The site's latest run reports, ``reports/<name>-latest.json`` under FEDNODE_HOME: what ``fednode etl``,
``fednode dq`` and ``fednode deid run`` last did (counts and reasons only, never patient text), read by the desk.

ONE store writes them, atomically: the JSON goes to a temporary file in the same folder that then replaces the
report (``os.replace``), so a reader sees the old report or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fednode.errors import BadInputError
from fednode.settings import Settings

log = logging.getLogger("fednode.node.site.reports")

REPORT_NAMES = ("etl", "dq", "deid")
"""The reports the CLI writes and the dashboard shows."""


class ReportStore:
    """Latest reports by name in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_settings(cls, settings: Settings) -> ReportStore:
        """The store under the site's FEDNODE_HOME."""
        return cls(settings.reports_dir)

    def path(self, name: str) -> Path:
        """Where report ``name`` lives."""
        if name not in REPORT_NAMES:
            raise ValueError(f"unknown report {name!r}")
        return self.folder / f"{name}-latest.json"

    def write(self, name: str, payload: Mapping[str, Any]) -> Path:
        """Replace report ``name`` with ``payload`` (a temporary file in the same folder, then an atomic rename)."""
        path = self.path(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(payload, default=str, sort_keys=True, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("reports.written name=%s", name)
        return path

    def read(self, name: str) -> Mapping[str, Any] | None:
        """Report ``name``, or None when it was not written yet; an unreadable report is bad input."""
        path = self.path(name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BadInputError(f"unreadable site report ({type(exc).__name__})", file=str(path)) from exc
        if not isinstance(data, dict):
            raise BadInputError("a site report must be a JSON object", file=str(path))
        return data
