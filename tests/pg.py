"""``postgres_server`` for tests: :func:`node.local.postgres.postgres_server`, skipping the test without a server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from fednode.errors import NotFoundError
from node.local import postgres


@contextmanager
def postgres_server(user: str = "fednode") -> Iterator[str]:
    """A PostgreSQL server for the duration of the block (its URL); the test is skipped where none can start."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(postgres.postgres_server(user))
        except NotFoundError as exc:
            pytest.skip(str(exc))
        yield url
