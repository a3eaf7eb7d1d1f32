"""Fixtures for the OMOP ETL tests: the bundled data and a PostgreSQL server (one per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import postgres_server

REPO = Path(__file__).resolve().parents[2]
SYNTHEA = REPO / "data" / "synthea-sample"
VOCAB = REPO / "data" / "omop-vocab"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL server, started once for the session and stopped at its end."""
    with postgres_server() as url:
        yield url
