"""Shared helpers for the OMOP ETL tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select, text

from fednode.bundled import bundled
from omop_etl.cdm import Base

REPO = Path(__file__).resolve().parents[2]
SYNTHEA = bundled("synthea-sample")
VOCAB = bundled("omop-vocab")


def copy_sample(dest: Path) -> Path:
    """A writable copy of the bundled Synthea sample."""
    shutil.copytree(SYNTHEA, dest)
    for path in dest.iterdir():
        path.chmod(0o644)
    return dest


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (CDM and fednode's own), sorted: a fingerprint of the whole database."""
    names = set(inspect(engine).get_table_names())
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in sorted(names):
            if name in Base.metadata.tables:
                rows = conn.execute(select(Base.metadata.tables[name])).all()
            else:
                rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()  # our own table names
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def edit_csv(path: Path, edit: Any) -> None:
    """Rewrite ``path`` through ``edit(lines) -> lines`` (lines without newlines)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
