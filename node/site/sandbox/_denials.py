"""Denial reports that the child's audit hook appends to ``report_path`` (one JSON object a line)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

AUDIT_EVENT = "sandbox:denied"
"""The audit-chain event name under which the site records each :class:`Denial`."""

CATEGORIES = frozenset({"file-read", "file-write", "network", "process", "signal", "native"})


@dataclass(frozen=True)
class Denial:
    """One action the sandbox refused. No patient text, no full paths: a category and a target *kind*.

    ``action``: the audit event or call (``open``, ``socket.connect``, ``subprocess.Popen``, ...);
    ``category``: one of :data:`CATEGORIES`; ``target``: what kind of thing was aimed at (``state.db``,
    ``omop.db``, ``keys``, ``proc-environ``, ``other-job``, ``outside-workdir``, ``tcp:8002``,
    ``executable``, ``parent-process``); ``at``: UTC ISO time of the report.
    """

    action: str
    category: str
    target: str
    at: str


def read_denials(report_path: str | os.PathLike[str]) -> list[Denial]:
    """The denials reported so far (missing file: none). Malformed lines are skipped, never raised on:
    the job writes nothing here itself (the fd is the hook's), but a killed child may leave half a line."""
    path = Path(report_path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out: list[Denial] = []
    for line in text.splitlines():
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(raw, dict):
            continue
        fields = [raw.get(k) for k in ("action", "category", "target", "at")]
        if all(isinstance(v, str) for v in fields) and raw["category"] in CATEGORIES:
            out.append(Denial(*(str(v)[:200] for v in fields)))
    return out
