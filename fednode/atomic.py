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


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """``path.write_bytes(data)``, atomically as :func:`atomic_text`; ``durable`` also syncs the folder so the
    rename itself survives a power cut (a checkpoint that must be there after a crash)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        if durable:
            sync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def sync_folder(folder: Path) -> None:
    """fsync a folder (its entries: a rename or unlink done in it); a no-op where the platform cannot."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
