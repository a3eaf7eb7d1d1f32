"""The Synthea v3 CSV files the ETL reads, with the columns each must have."""

from __future__ import annotations

from pathlib import Path

from fednode.errors import EtlInputError
from omop_etl.csvio import Table, read_table

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("ID", "BIRTHDATE", "DEATHDATE", "RACE", "ETHNICITY", "GENDER", "ADDRESS", "CITY", "STATE", "ZIP"),
    "organizations": ("ID", "NAME", "ADDRESS", "CITY", "STATE", "ZIP"),
    "providers": ("ID", "ORGANIZATION", "NAME", "GENDER", "SPECIALITY"),
    "encounters": ("ID", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "ENCOUNTERCLASS", "CODE"),
    "conditions": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE"),
    "medications": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE"),
    "immunizations": ("DATE", "PATIENT", "ENCOUNTER", "CODE"),
    "procedures": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE"),
    "observations": ("DATE", "PATIENT", "ENCOUNTER", "CODE", "VALUE", "UNITS", "TYPE"),
    "devices": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "UDI"),
    "allergies": ("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "SYSTEM"),
}
"""File stem -> required columns. ``patients``, ``encounters`` are required files; the others are optional."""

REQUIRED_FILES = ("patients", "encounters")


def check_source_folder(folder: Path) -> None:
    """Raise :class:`EtlInputError` unless ``folder`` is a folder with the required files (a cheap check made
    before any database is touched; :func:`read_sources` then reads them strictly)."""
    if not folder.is_dir():
        raise EtlInputError("source folder does not exist", file=str(folder))
    for stem in REQUIRED_FILES:
        if not (folder / f"{stem}.csv").is_file():
            raise EtlInputError("required source file is missing", file=str(folder / f"{stem}.csv"))


def read_sources(folder: Path) -> dict[str, Table]:
    """Read every known file in ``folder`` strictly; raises EtlInputError on the first malformed one."""
    check_source_folder(folder)
    tables: dict[str, Table] = {}
    for stem, columns in REQUIRED_COLUMNS.items():
        path = folder / f"{stem}.csv"
        if not path.is_file():
            if stem in REQUIRED_FILES:
                raise EtlInputError("required source file is missing", file=path.name)
            continue
        first = path.read_bytes()[:4096].split(b"\n", 1)[0]
        if b"," not in first and (b"\t" in first or b";" in first):
            raise EtlInputError("wrong delimiter: Synthea CSV files are comma-separated", file=path.name, line=1)
        tables[stem] = read_table(path, columns, delimiter=",")
    return tables
