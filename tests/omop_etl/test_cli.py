"""`fednode etl` / `fednode dq` as a user runs them: exit codes, one JSON object, reports under FEDNODE_HOME."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from tests.omop_etl.helpers import SYNTHEA, copy_sample, edit_csv

runner = CliRunner()


def test_etl_then_dq_json_and_reports(fednode_home: Path, site_home: Path) -> None:
    db = f"sqlite:///{fednode_home / 'omop.db'}"
    result = runner.invoke(app, ["--json", "etl", "--source", str(SYNTHEA), "--db", db])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rows"]["person"] == 27 and payload["changed_total"] > 0
    assert json.loads((fednode_home / "reports" / "etl-latest.json").read_text())["rows"]["person"] == 27
    dq = runner.invoke(app, ["--json", "dq", "--db", db])
    assert dq.exit_code == 4  # the bundled vocabulary subset fails known checks (docs/etl.md)
    report = json.loads(dq.stdout)
    assert report["ok"] is False and report["summary"]["fail"] > 0
    accepted = runner.invoke(app, ["--json", "dq", "--db", db, "--accept", "omop_etl/dq/accepted_bundled_sample.txt"])
    assert accepted.exit_code == 0 and json.loads(accepted.stdout)["ok"] is True
    assert (fednode_home / "reports" / "dq-latest.json").is_file()


def test_malformed_extract_exits_4_naming_file_and_line(fednode_home: Path, site_home: Path, tmp_path: Path) -> None:
    source = copy_sample(tmp_path / "src")
    edit_csv(source / "encounters.csv", lambda ls: [*ls[:10], ls[10][:25], *ls[11:]])
    result = runner.invoke(app, ["--json", "etl", "--source", str(source), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 4
    error = json.loads(result.stdout)
    assert "encounters.csv:11" in error["message"] and error["exit_code"] == 4


def test_notes_need_the_deidentification_side(
    fednode_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "node.site.notes", None)  # as if it were not installed
    notes = tmp_path / "notes.jsonl"
    notes.write_text(
        '{"note_id": "1", "person_source_value": "p", "note_date": "2020-01-01", "title": "t", "text": "x"}\n'
    )
    result = runner.invoke(app, ["--json", "etl", "--notes", str(notes), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code != 0
    assert "de-identification is not available" in json.loads(result.stdout)["message"]
