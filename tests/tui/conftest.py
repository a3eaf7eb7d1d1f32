"""Fixtures for the dashboard tests: a real site on a temp FEDNODE_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.sitekit import Site, open_site


@pytest.fixture
def site(fednode_home: Path) -> Iterator[Site]:
    """Four-eyes and TOTP, as the example policy asks."""
    s = open_site(fednode_home)
    yield s
    s.desk.close()


@pytest.fixture
def single_site(fednode_home: Path) -> Iterator[Site]:
    """One approver, no TOTP."""
    s = open_site(fednode_home, required_approvals=1, totp_required=False)
    yield s
    s.desk.close()
