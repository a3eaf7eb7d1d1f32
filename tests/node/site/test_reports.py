"""The one report store: atomic writes, the old report kept when a write fails, bad reports are bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fednode.errors import BadInputError
from node.site.reports import ReportStore


def test_write_then_read_and_nothing_left_beside(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "reports")
    assert store.read("dq") is None
    path = store.write("dq", {"passed": True, "checks": 12})
    assert path == tmp_path / "reports" / "dq-latest.json"
    assert store.read("dq") == {"passed": True, "checks": 12}
    store.write("dq", {"passed": False})
    assert store.read("dq") == {"passed": False}
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["dq-latest.json"]


def test_a_failed_write_keeps_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ReportStore(tmp_path)
    store.write("etl", {"persons": 3})

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.write("etl", {"persons": 4})
    assert store.read("etl") == {"persons": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["etl-latest.json"]


def test_unknown_and_unreadable_reports(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    with pytest.raises(ValueError, match="unknown report"):
        store.write("../escape", {})
    (tmp_path / "deid-latest.json").write_text("[1, 2]")
    with pytest.raises(BadInputError, match="JSON object"):
        store.read("deid")
    (tmp_path / "deid-latest.json").write_text("{half")
    with pytest.raises(BadInputError, match="unreadable"):
        store.read("deid")
