"""The CDM models match the official v5.4 spec field by field (all 39 tables), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, types

from fednode.bundled import bundled
from omop_etl.cdm import Base, create_cdm
from omop_etl.cdm import _codegen as codegen

SPEC = bundled("omop-spec", "cdm", "OMOP_CDMv5.4_Field_Level.csv")


def _spec() -> list[dict[str, str]]:
    with SPEC.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _family(datatype: str) -> tuple[type[types.TypeEngine[object]], int | None]:
    dt = datatype.strip().lower()
    if dt == "integer":
        return types.Integer, None
    if dt == "float":
        return types.Float, None
    if dt == "date":
        return types.Date, None
    if dt == "datetime":
        return types.DateTime, None
    if dt == "varchar(max)":
        return types.Text, None
    match = re.fullmatch(r"varchar\((\d+)\)", dt)
    assert match, dt
    return types.String, int(match.group(1))


def test_every_spec_field_exists_with_nullability_pk_and_type() -> None:
    rows = _spec()
    assert len({r["cdmTableName"] for r in rows}) == 39 and len(rows) == 432
    tables = Base.metadata.tables
    assert set(tables) == {r["cdmTableName"].lower() for r in rows}
    for row in rows:
        table = tables[row["cdmTableName"].lower()]
        name = row["cdmFieldName"].strip('"').lower()
        column = table.c[name]
        where = f"{table.name}.{name}"
        assert column.nullable == (row["isRequired"] != "Yes") or column.primary_key, where
        assert column.primary_key == (row["isPrimaryKey"] == "Yes"), where
        family, length = _family(row["cdmDatatype"])
        assert isinstance(column.type, family), where
        if family is types.String and not isinstance(column.type, types.Text):
            assert column.type.length == length, where
    spec_columns = {(r["cdmTableName"].lower(), r["cdmFieldName"].strip('"').lower()) for r in rows}
    model_columns = {(t.name, c.name) for t in tables.values() for c in t.columns}
    assert model_columns == spec_columns


def test_committed_models_equal_what_the_generator_writes(tmp_path: Path) -> None:
    spec = codegen.read_spec()
    for module, (doc, table_names) in codegen.MODULES.items():
        rendered = codegen.render_module(doc, table_names, spec)
        committed = (Path(codegen.__file__).parent / f"{module}.py").read_text()
        # compare modulo formatting: the generator's raw output is ruff-formatted before it is committed
        squash = lambda s: re.sub(r"[\s,'\"]+", "", s)  # noqa: E731
        assert squash(rendered) == squash(committed), module


def _check_database(engine: Engine) -> None:
    create_cdm(engine)
    create_cdm(engine)  # idempotent
    inspector = inspect(engine)
    for row in _spec():
        table = row["cdmTableName"].lower()
        name = row["cdmFieldName"].strip('"').lower()
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        assert name in columns, f"{table}.{name}"
        if row["isPrimaryKey"] != "Yes":
            assert columns[name]["nullable"] == (row["isRequired"] != "Yes"), f"{table}.{name}"
    for table in Base.metadata.tables.values():
        pk = inspector.get_pk_constraint(table.name)
        expected = [c.name for c in table.primary_key.columns]
        assert pk["constrained_columns"] == expected, table.name
        if expected:
            assert pk["name"] in (f"xpk_{table.name}", None), table.name  # SQLite reports no PK name


def test_sqlite_database_matches_spec(tmp_path: Path) -> None:
    _check_database(create_engine(f"sqlite:///{tmp_path / 'cdm.db'}"))


@pytest.mark.postgres
def test_postgres_database_matches_spec(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        _check_database(engine)
        assert inspect(engine).get_pk_constraint("person")["name"] == "xpk_person"
    finally:
        engine.dispose()
