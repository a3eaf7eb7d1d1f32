"""Files written whole or not at all: a temp file beside the target, synced, then renamed over it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_text(path: Path) -> Iterator[IO[str]]:
    """Write ``path`` (UTF-8) through a temp file beside it, renamed into place only when the block succeeds; a
    failure leaves the old file (or none) and no temp file. The folder must exist."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """``path.write_text(text)``, atomically (:func:`atomic_text`)."""
    with atomic_text(path) as fh:
        fh.write(text)
