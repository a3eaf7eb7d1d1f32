"""Opening a SQLite file strictly read-only: no journal, WAL or shared-memory file is created beside it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote


@contextmanager
def open_read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that writes nothing. SQLite's ``mode=ro`` alone still creates ``-wal``/``-shm`` files beside a
    WAL database (and leaves them); with no ``-wal`` file there is no pending write to see, so the file is opened
    ``immutable`` (no locks, nothing created); with one, a writer is at work and its files exist already."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if not path.with_name(path.name + "-wal").exists():
        uri += "&immutable=1"
    db = sqlite3.connect(uri, uri=True, timeout=2.0)
    try:
        yield db
    finally:
        db.close()
