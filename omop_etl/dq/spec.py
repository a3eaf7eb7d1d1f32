"""DQD v2.8 check definitions for CDM 5.4 (``OMOP_CDMv5.4_{Table,Field,Concept}_Level.csv``), read as given."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from fednode.errors import EtlInputError


@dataclass(frozen=True)
class DqSpec:
    """The three threshold tables, one dict per row (column names as in the DQD files)."""

    tables: list[dict[str, str]]
    fields: list[dict[str, str]]
    concepts: list[dict[str, str]]


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise EtlInputError("DQD threshold file is missing", file=str(path))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(handle)]


def load_spec(folder: Path) -> DqSpec:
    return DqSpec(
        tables=_read(folder / "OMOP_CDMv5.4_Table_Level.csv"),
        fields=_read(folder / "OMOP_CDMv5.4_Field_Level.csv"),
        concepts=_read(folder / "OMOP_CDMv5.4_Concept_Level.csv"),
    )


def threshold(row: dict[str, str], check: str) -> float:
    """A check's threshold in percent (DQD: empty means 0)."""
    value = row.get(f"{check}Threshold", "")
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
