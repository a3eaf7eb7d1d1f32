"""Write the CDM v5.4 model modules from the official specification (run by hand, output reviewed and committed).

``python -m omop_etl.cdm._codegen`` reads ``OMOP_CDMv5.4_Field_Level.csv`` and the PostgreSQL index DDL from
``fednode/data/omop-spec/cdm`` and rewrites the modules listed in :data:`MODULES`. Nothing here runs at import time
of the models: the generated files are plain, typed SQLAlchemy 2.0 declarative classes. ``tests/omop_etl`` checks that
the committed modules equal what this script writes, so the spec and the code cannot drift apart silently.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

from fednode.bundled import bundled

SPEC_DIR = bundled("omop-spec", "cdm")
OUT_DIR = Path(__file__).resolve().parent

MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "clinical": (
        "Standardized clinical data tables.",
        (
            "person",
            "observation_period",
            "visit_occurrence",
            "visit_detail",
            "condition_occurrence",
            "drug_exposure",
            "procedure_occurrence",
            "device_exposure",
            "measurement",
            "observation",
            "death",
            "note",
            "note_nlp",
            "specimen",
            "fact_relationship",
        ),
    ),
    "health_system": ("Standardized health-system tables.", ("location", "care_site", "provider")),
    "economics": ("Standardized health-economics tables.", ("payer_plan_period", "cost")),
    "derived": (
        "Standardized derived elements (eras, episodes).",
        ("drug_era", "dose_era", "condition_era", "episode", "episode_event"),
    ),
    "metadata": ("Standardized metadata tables.", ("metadata", "cdm_source")),
    "vocabulary": (
        "Standardized vocabulary tables.",
        (
            "concept",
            "vocabulary",
            "domain",
            "concept_class",
            "concept_relationship",
            "relationship",
            "concept_synonym",
            "concept_ancestor",
            "source_to_concept_map",
            "drug_strength",
        ),
    ),
    "results": ("Results-schema tables the CDM spec includes.", ("cohort", "cohort_definition")),
}

# Tables the spec gives no primary key: the ORM needs an identity, so these columns form a mapper-level key
# only (no constraint is created in the database, exactly as OHDSI's DDL).
MAPPER_KEYS: dict[str, tuple[str, ...]] = {
    "death": ("person_id",),
    "fact_relationship": (
        "domain_concept_id_1",
        "fact_id_1",
        "domain_concept_id_2",
        "fact_id_2",
        "relationship_concept_id",
    ),
    "episode_event": ("episode_id", "event_id", "episode_event_field_concept_id"),
    "cdm_source": ("cdm_source_abbreviation",),
    "concept_relationship": ("concept_id_1", "concept_id_2", "relationship_id"),
    "concept_synonym": ("concept_id", "concept_synonym_name", "language_concept_id"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id"),
    "source_to_concept_map": ("source_code", "source_vocabulary_id", "target_concept_id", "valid_end_date"),
    "drug_strength": ("drug_concept_id", "ingredient_concept_id"),
    "cohort": ("cohort_definition_id", "subject_id", "cohort_start_date", "cohort_end_date"),
    "cohort_definition": ("cohort_definition_id",),
}

_INDEX_RE = re.compile(r"CREATE INDEX (\w+)\s+ON @cdmDatabaseSchema\.(\w+)\s+\(([^)]*)\)")


def _class_name(table: str) -> str:
    return "".join(part.capitalize() for part in table.split("_"))


def _column(field: dict[str, str]) -> tuple[str, str, str]:
    """(python type, SQLAlchemy type expression, type import) for one spec field."""
    datatype = field["cdmDatatype"].strip().lower()
    if datatype == "integer":
        return "int", "Integer", "Integer"
    if datatype == "bigint":
        return "int", "BigInteger", "BigInteger"
    if datatype == "float":
        return "float", "Float", "Float"
    if datatype == "date":
        return "date", "Date", "Date"
    if datatype == "datetime":
        return "datetime", "DateTime", "DateTime"
    if datatype == "varchar(max)":
        return "str", "Text", "Text"
    match = re.fullmatch(r"varchar\((\d+)\)", datatype)
    if match:
        return "str", f"String({match.group(1)})", "String"
    raise ValueError(f"unknown CDM datatype {datatype!r}")


def read_spec() -> dict[str, list[dict[str, str]]]:
    """The spec's fields per table, in spec order."""
    tables: dict[str, list[dict[str, str]]] = {}
    with (SPEC_DIR / "OMOP_CDMv5.4_Field_Level.csv").open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            row["cdmFieldName"] = row["cdmFieldName"].strip('"')
            tables.setdefault(row["cdmTableName"].lower(), []).append(row)
    return tables


def read_indexes() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """OHDSI's indexes per table (name, columns), from the PostgreSQL DDL."""
    ddl = (SPEC_DIR / "ddl-5.4" / "postgresql" / "OMOPCDM_postgresql_5.4_indices.sql").read_text()
    text = "\n".join(line for line in ddl.splitlines() if not line.lstrip().startswith("--"))
    found: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for name, table, cols in _INDEX_RE.findall(text):
        columns = tuple(c.split()[0].strip() for c in cols.split(","))
        found.setdefault(table, []).append((name, columns))
    return found


def render_module(doc: str, tables: tuple[str, ...], spec: dict[str, list[dict[str, str]]]) -> str:
    indexes = read_indexes()
    sa_types: set[str] = set()
    py_types: set[str] = set()
    body: list[str] = []
    for table in tables:
        fields = spec[table]
        pks = [f["cdmFieldName"].strip('"') for f in fields if f["isPrimaryKey"] == "Yes"]
        body.append("")
        body.append("")
        body.append(f"class {_class_name(table)}(Base):")
        body.append(f'    """CDM v5.4 ``{table}``."""')
        body.append("")
        body.append(f'    __tablename__ = "{table}"')
        names = {f["cdmFieldName"].lower() for f in fields}
        # skip an index on a column the spec does not have (none today; a guard against DDL/spec drift)
        table_args = [
            f'Index("{name}", {", ".join(repr(c) for c in cols)})'
            for name, cols in indexes.get(table, [])
            if set(cols) <= names
        ]
        if table_args:
            body.append("    __table_args__ = (")
            body.extend(f"        {arg}," for arg in table_args)
            body.append("    )")
        if not pks:
            keys = ", ".join(f'"{k}"' for k in MAPPER_KEYS[table])
            body.append("    # the spec gives this table no primary key: a mapper-level identity only, no constraint")
            body.append("    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation")
            body.append(f'        "primary_key": ({keys},),')
            body.append("    }")
        body.append("")
        for field in fields:
            name = field["cdmFieldName"].strip('"').lower()
            py, sa, imp = _column(field)
            sa_types.add(imp)
            py_types.add(py)
            required = field["isRequired"] == "Yes"
            annotation = py if required else f"{py} | None"
            args = [sa]
            if field["isPrimaryKey"] == "Yes":
                args.append("primary_key=True")
                if py == "int":
                    args.append("autoincrement=False")
            else:
                args.append(f"nullable={not required}")
            body.append(f"    {name}: Mapped[{annotation}] = mapped_column({', '.join(args)})")
    header = [
        f'"""{doc}',
        "",
        "Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    dt = sorted(t for t in ("date", "datetime") if t in py_types)
    if dt:
        header.append(f"from datetime import {', '.join(dt)}")
        header.append("")
    need_index = any("Index(" in line for line in body)
    imports = sorted(sa_types | ({"Index"} if need_index else set()))
    header.append(f"from sqlalchemy import {', '.join(imports)}")
    header.append("from sqlalchemy.orm import Mapped, mapped_column")
    header.append("")
    header.append("from omop_etl.cdm.base import Base")
    return "\n".join(header + body) + "\n"


def main() -> None:
    spec = read_spec()
    written = []
    for module, (doc, tables) in MODULES.items():
        path = OUT_DIR / f"{module}.py"
        path.write_text(render_module(doc, tables, spec), encoding="utf-8")
        written.append(str(path))
    covered = {t for _, ts in MODULES.values() for t in ts}
    missing = set(spec) - covered
    if missing:
        raise SystemExit(f"tables not assigned to a module: {sorted(missing)}")
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", "--quiet", "--fix", "--select", "I", *written], check=True)  # noqa: S603
    subprocess.run([*ruff, "format", "--quiet", *written], check=True)  # noqa: S603


if __name__ == "__main__":
    main()
