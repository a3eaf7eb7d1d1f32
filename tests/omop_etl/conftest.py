"""Fixtures for the OMOP ETL tests: a PostgreSQL server, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import postgres_server


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A URL to a fresh PostgreSQL server, started once for the session and stopped at its end."""
    with postgres_server() as url:
        yield url
