"""`fednode dq` fails on a CDM without data; `etl` / `dq` human output reads at 80 columns; progress bars go to
stderr only (issue 13)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

import node.site.notes
from node.cli.commands_data import _progress
from node.cli.main import app
from omop_etl.cdm import ObservationPeriod, create_cdm
from omop_etl.db import make_engine
from tests.omop_etl.helpers import REPO, SYNTHEA

runner = CliRunner()
ACCEPTED = REPO / "omop_etl" / "dq" / "accepted_bundled_sample.txt"
NARROW = {"COLUMNS": "80"}


def _widest(out: str) -> int:
    """The widest line, leaving out the report path (a path is printed whole, never folded)."""
    return max(len(line) for line in out.splitlines() if not line.startswith("report: "))


def _load_sample(home: Path) -> None:
    result = runner.invoke(app, ["--json", "etl", "--source", str(SYNTHEA)])
    assert result.exit_code == 0, result.output


def test_dq_on_an_empty_cdm_fails_naming_the_empty_tables(fednode_home: Path, site_home: Path) -> None:
    engine = make_engine(f"sqlite:///{fednode_home / 'omop.db'}")
    create_cdm(engine)
    engine.dispose()
    result = runner.invoke(app, ["--json", "dq"])
    assert result.exit_code == 4, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["empty_tables"] == ["person", "observation_period", "concept", "vocabulary"]
    assert "person, observation_period, concept, vocabulary empty" in payload["message"]
    human = runner.invoke(app, ["dq"], env=NARROW)
    assert human.exit_code == 4
    assert "person is empty" in human.stdout and "FAILED" in human.stdout


def test_an_empty_observation_period_fails_even_with_every_failure_accepted(
    fednode_home: Path, site_home: Path
) -> None:
    _load_sample(fednode_home)
    assert runner.invoke(app, ["dq", "--accept", str(ACCEPTED)]).exit_code == 0  # the real data passes
    engine = make_engine(f"sqlite:///{fednode_home / 'omop.db'}")
    with engine.begin() as conn:
        conn.execute(delete(ObservationPeriod))
    engine.dispose()
    accept = fednode_home / "accept.txt"
    accept.write_text(ACCEPTED.read_text() + "tableNotEmpty observation_period  # we have none\n")
    result = runner.invoke(app, ["--json", "dq", "--accept", str(accept)])
    assert result.exit_code == 4
    payload = json.loads(result.stdout)
    assert payload["empty_tables"] == ["observation_period"]
    assert ("tableNotEmpty", "observation_period") in {(r["check"], r["table"]) for r in payload["failed"]}


def test_dq_failed_check_names_are_not_cut_at_80_columns(fednode_home: Path, site_home: Path) -> None:
    _load_sample(fednode_home)
    result = runner.invoke(app, ["dq"], env=NARROW)
    assert result.exit_code == 4
    out = result.stdout
    assert _widest(out) <= 80
    for name in ("standardConceptRecordCompleteness", "sourceConceptRecordCompleteness", "plausibleUnitConceptIds"):
        assert name in out
    assert "measurement.measurement_source_concept_id" in out
    assert "…" not in out


def test_etl_table_at_80_columns_shows_every_table_and_header(fednode_home: Path, site_home: Path) -> None:
    result = runner.invoke(app, ["etl", "--source", str(SYNTHEA)], env=NARROW)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert _widest(out) <= 80
    for word in ("condition_occurrence", "observation_period", "inserted", "quarantined", "unmapped"):
        assert word in out
    assert "…" not in out


def _some_loaded(_settings: Any, _notes: Path, _db: str | None = None, **_kw: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "operator": "surrogate",
        "deid": {
            "read": 3,
            "deidentified": 2,
            "quarantined": {"not_json": 1},
            "phi": {"DATE_TIME": 4, "PERSON": 3},
            "annotations_kept": 5,
        },
        "load": {"inserted": 2, "updated": 0, "unchanged": 0, "nlp_rows": 5, "quarantined": {}},
        "quarantine_file": None,
        "seconds": 0.1,
    }


def test_etl_notes_counts_are_in_the_human_summary(
    fednode_home: Path, site_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(node.site.notes, "deidentify_notes_into_cdm", _some_loaded)
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "a-test-site-secret-of-some-length")
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"note_id": "1"}\n')
    result = runner.invoke(app, ["etl", "--source", str(SYNTHEA), "--notes", str(notes)], env=NARROW)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "notes: 3 read, 2 de-identified, 2 loaded into NOTE" in out
    assert "notes quarantined: not_json x1" in out
    assert "PHI replaced: DATE_TIME 4, PERSON 3" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_stderr_and_json_stdout_is_one_object(
    fednode_home: Path, site_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = _Terminal()
    bar, step = _progress(2, stream=terminal)
    step("reading source files")
    bar.close()
    assert "reading source files" in terminal.getvalue()
    assert capsys.readouterr().out == ""
    result = runner.invoke(app, ["--json", "etl", "--source", str(SYNTHEA)])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1 and json.loads(result.stdout)["ok"] is True
