"""The PostgreSQL helper starts a real server on loopback and the CDM can be created in it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from omop_etl.cdm import Base, create_cdm


@pytest.mark.postgres
def test_cdm_creates_on_a_real_postgres(pg_url: str) -> None:
    assert "127.0.0.1" in pg_url
    engine = create_engine(pg_url)
    try:
        create_cdm(engine)
        names = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= names
        pk = inspect(engine).get_pk_constraint("person")
        assert pk["name"] == "xpk_person" and pk["constrained_columns"] == ["person_id"]
        with engine.connect() as conn:
            assert conn.execute(text("select version()")).scalar_one().startswith("PostgreSQL")
    finally:
        engine.dispose()
