"""Suite-wide fixtures: an isolated FEDNODE_HOME and offline settings for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"


@pytest.fixture
def fednode_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh site home, set as FEDNODE_HOME for the test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FEDNODE_HOME", str(home))
    monkeypatch.delenv("FEDNODE_CONFIG", raising=False)
    yield home


@pytest.fixture
def site_home(fednode_home: Path) -> Path:
    """``fednode_home`` with a site set up (``fednode site init``: state.db and the site key), as the commands that
    process data (etl, dq, deid run into the CDM, policy compile) require: they record their work in its audit log."""
    from fednode.settings import load_settings
    from policies.state_db import init_site

    init_site(load_settings())
    return fednode_home
