"""Worker-process side of the parallel throughput run (a module of its own so spawn can import it)."""

from __future__ import annotations

import time
from typing import Any

KEY = b"bench-site-secret-0123456789abcd"
_ENGINE: Any = None


def init() -> None:
    """Build this process's engine once."""
    global _ENGINE  # one engine per worker process
    from deid.engine import Deidentifier

    _ENGINE = Deidentifier(operator="surrogate", key=KEY)


def one(note: tuple[str, str, str]) -> float:
    """De-identify one note; return the CPU seconds it took."""
    started = time.process_time()
    _ENGINE.deidentify(*note)
    return time.process_time() - started
