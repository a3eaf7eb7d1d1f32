"""The record of processing (issue 14): every command that processes the site's data or sets the site up leaves
its audit record, with ids, counts and digests and never patient data; where the home holds no site a command
that processes data is refused before it touches any (nothing is processed unrecorded), and a set-up command says
loudly that it was not recorded; neither creates anything.

The de-identifier is a stub tagging "Kari Hansen" (these tests are about the records); the PHI test at the end
runs the real one over synthetic PHI.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from node.cli._audit import operator_name
from node.cli.main import app
from node.site.processing import folder_digest, secret_id
from tests.node.cli.deid_stub import NAME, StubDeidentifier
from tests.omop_etl.helpers import REPO, SYNTHEA

EXAMPLES = REPO / "policies" / "examples"
ACCEPTED = REPO / "omop_etl" / "dq" / "accepted_bundled_sample.txt"
SECRET = "a-test-site-secret-of-some-length"
PROCESSING = {
    "key:created",
    "etl:loaded",
    "notes:loaded",
    "notes:deidentified",
    "dq:run",
    "policy:compiled",
    "approver:enrolled",
    "audit:exported",
}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("FEDNODE_DEID__SECRET", SECRET)
    return CliRunner()


@pytest.fixture
def stub_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deid.engine.Deidentifier", StubDeidentifier)


def _patients() -> list[dict[str, str]]:
    with (SYNTHEA / "patients.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _phi_of_the_extract() -> list[str]:
    """What may never reach the audit log from the Synthea extract: patient ids, names, SSNs, addresses."""
    out: list[str] = []
    for p in _patients():
        out += [p["Id"], p["FIRST"], p["LAST"], p["SSN"], p["ADDRESS"]]
    return [v for v in out if v]


def _notes(path: Path, texts: list[str]) -> Path:
    persons = [p["Id"] for p in _patients()]
    rows = [
        {
            "note_id": f"note-{i}",
            "person_source_value": persons[i % len(persons)],
            "note_date": "2024-03-12",
            "title": "Poliklinisk notat",
            "lang": "nb",
            "text": text,
        }
        for i, text in enumerate(texts)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _ok(runner: CliRunner, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def _records(runner: CliRunner, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "audit.jsonl"
    _ok(runner, "audit", "export", "--out", str(out))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return [r for r in lines if r["type"] == "record"]


def test_processing_commands_leave_their_records_with_counts_and_no_patient_data(
    fednode_home: Path, tmp_path: Path, runner: CliRunner, stub_engine: None
) -> None:
    shutil.copy(EXAMPLES / "site-policy.yaml", fednode_home / "policy.yaml")
    local = tmp_path / "local"
    local.mkdir()
    (local / "resources.json.default").write_text(json.dumps({"format_version": 2, "components": []}))
    notes = _notes(tmp_path / "notes.jsonl", [f"Overlege {NAME} ser pasienten.", "Kontroll uten funn."])

    _ok(runner, "site", "init")
    for _ in range(2):  # the documented sequence runs each step twice: each run is a record
        _ok(runner, "etl", "--source", str(SYNTHEA))
    _ok(runner, "dq", code=4)  # the bundled sample fails until its known failures are accepted
    _ok(runner, "dq", "--accept", str(ACCEPTED))
    _ok(runner, "deid", "run", "--input", str(notes))
    _ok(runner, "deid", "run", "--input", str(notes), "--output", str(tmp_path / "deid.jsonl"))
    _ok(runner, "policy", "compile", "--out", str(local))
    totp = json.loads(_ok(runner, "--json", "approvers", "enroll", "dr.hansen").stdout)["secret"]
    _ok(runner, "audit", "export", "--out", str(tmp_path / "first.jsonl"))
    records = _records(runner, tmp_path)

    assert [r["event"] for r in records] == [
        "key:created",
        "etl:loaded",
        "etl:loaded",
        "dq:run",
        "dq:run",
        "notes:loaded",
        "notes:deidentified",
        "policy:compiled",
        "approver:enrolled",
        "audit:exported",
    ]
    by = {r["event"]: r["details"] for r in records}
    etl = [r["details"] for r in records if r["event"] == "etl:loaded"]
    assert etl[0]["rows"]["person"] == len(_patients()) and etl[0]["changed_total"] > 0
    assert etl[1]["changed_total"] == 0  # the rerun changed nothing, and says so
    assert etl[0]["source_digest"] == etl[1]["source_digest"] == folder_digest(SYNTHEA)[0]
    assert etl[0]["quarantined_total"] == 0 and etl[0]["db"] == "sqlite"
    dq = [r["details"] for r in records if r["event"] == "dq:run"]
    assert dq[0]["verdict"] == "failed" and dq[0]["summary"]["fail"] == len(dq[0]["failed_checks"]) > 0
    assert dq[1]["verdict"] == "passed" and sorted(dq[1]["accepted_checks"]) == sorted(dq[0]["failed_checks"])
    assert dq[1]["accept_file_digest"].startswith("sha256:")
    loaded = by["notes:loaded"]
    assert loaded["phi"] == {"PERSON": 1} and loaded["read"] == 2 and loaded["loaded"]["inserted"] == 2
    assert loaded["operator"] == "surrogate" and loaded["secret_id"].startswith("sha256:")
    assert by["notes:deidentified"]["phi"] == {"PERSON": 1} and "loaded" not in by["notes:deidentified"]
    compiled = json.loads(_ok(runner, "--json", "policy", "compile", "--out", str(local)).stdout)
    assert by["policy:compiled"]["policy_digest"] == compiled["policy_digest"]
    assert by["approver:enrolled"] == {"approver": "dr.hansen", "factor": "totp", "replaced": False}
    assert by["key:created"]["key_id"] and by["audit:exported"]["records"] == 9
    assert {r["actor"] for r in records} == {operator_name()}  # the OS user who ran each command

    text = json.dumps(records, ensure_ascii=False)
    for secret in [NAME, "Overlege", "Kontroll uten funn", SECRET, *_phi_of_the_extract()]:
        assert secret not in text
    assert totp not in text


def test_a_processing_command_on_a_home_without_a_site_is_refused_before_touching_data(
    fednode_home: Path, tmp_path: Path, runner: CliRunner, stub_engine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is processed unrecorded: etl, dq, deid run into the CDM and policy compile refuse (exit 4) on a
    home without a site, naming `fednode site init`, and create nothing (no CDM, no state.db, no key)."""
    other = tmp_path / "site"
    other.mkdir()
    monkeypatch.setenv("FEDNODE_HOME", str(other))
    _ok(runner, "site", "init")
    _ok(runner, "etl", "--source", str(SYNTHEA))  # a CDM elsewhere, for dq and deid run to point at
    monkeypatch.setenv("FEDNODE_HOME", str(fednode_home))
    shutil.copy(EXAMPLES / "site-policy.yaml", fednode_home / "policy.yaml")
    cdm = f"sqlite:///{other / 'omop.db'}"
    notes = _notes(tmp_path / "notes.jsonl", [f"Overlege {NAME} ser pasienten."])
    local = tmp_path / "local"
    local.mkdir()
    before = {p.name for p in fednode_home.iterdir()}
    for args in (
        ["etl", "--source", str(SYNTHEA)],
        ["dq", "--db", cdm, "--accept", str(ACCEPTED)],
        ["deid", "run", "--input", str(notes), "--db", cdm],
        ["policy", "compile", "--out", str(local)],
    ):
        result = _ok(runner, "--json", *args, code=4)
        error = json.loads(result.stdout)
        assert error["error"] == "NotFoundError" and "this home holds no site" in error["message"], args
        assert "fednode site init" in error["message"]
    assert {p.name for p in fednode_home.iterdir()} == before == {"policy.yaml"}  # nothing created
    assert not any(local.iterdir())
    monkeypatch.setenv("FEDNODE_HOME", str(other))
    assert [r["event"] for r in _records(runner, tmp_path)] == ["key:created", "etl:loaded"]  # the CDM: untouched


def test_a_set_up_command_on_a_home_without_a_site_warns_that_it_was_not_recorded(
    fednode_home: Path, runner: CliRunner
) -> None:
    shutil.copy(EXAMPLES / "site-policy.yaml", fednode_home / "policy.yaml")
    result = _ok(runner, "approvers", "enroll", "dr.hansen")
    assert "not recorded: no site here" in " ".join(result.stderr.split())
    assert not (fednode_home / "state.db").exists()


def test_secret_id_names_the_secret_without_holding_it() -> None:
    from pydantic import SecretStr

    from fednode.settings import DeidSettings

    one = secret_id(DeidSettings(secret=SecretStr(SECRET)))
    assert one is not None and SECRET not in one and one == secret_id(DeidSettings(secret=SecretStr(SECRET)))
    assert one != secret_id(DeidSettings(secret=SecretStr(SECRET + "x")))
    assert secret_id(DeidSettings()) is None


PHI_NOTES = [
    "Pasient Ola Nordmann, fnr 12119616032, tlf 22 33 44 55, ola@helse.no, Storgata 12, 0155 Oslo.",
    "Overlege Kari Hansen ringte datteren Ingrid Nordmann 12.03.2024 om videre oppfølging.",
]
PHI_STRINGS = ["Ola Nordmann", "12119616032", "22 33 44 55", "ola@helse.no", "Storgata 12", "Kari Hansen", "Ingrid"]


def test_synthetic_phi_never_reaches_the_audit_log_after_etl_and_deid(
    fednode_home: Path, tmp_path: Path, runner: CliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    """The PHI-in-logs check (tests/deid/test_batch.py), extended to the audit log: a real de-identification of
    synthetic PHI through `etl --notes` and `deid run` leaves counts in the audit log, never the PHI."""
    caplog.set_level(logging.DEBUG)
    notes = _notes(tmp_path / "notes.jsonl", PHI_NOTES)
    _ok(runner, "site", "init")
    etl = _ok(runner, "etl", "--source", str(SYNTHEA), "--notes", str(notes))
    run = _ok(runner, "deid", "run", "--input", str(notes))
    records = _records(runner, tmp_path)
    notes_records = [r["details"] for r in records if r["event"] == "notes:loaded"]
    assert len(notes_records) == 2 and all(sum(d["phi"].values()) >= 5 for d in notes_records)
    text = json.dumps(records, ensure_ascii=False)
    logged = caplog.text + etl.output + run.output
    for secret in [*PHI_STRINGS, SECRET, *_phi_of_the_extract()]:
        assert secret not in text
    for secret in PHI_STRINGS:
        assert secret not in logged
    assert {r["event"] for r in records} <= PROCESSING


def test_the_data_tab_the_ro_crate_and_the_dashboards_export_show_the_processing_history(
    fednode_home: Path, tmp_path: Path, runner: CliRunner
) -> None:
    from rich.console import Console

    from fednode.settings import load_settings
    from node.site.desk import SiteDesk
    from tui.widgets.data_pane import render_processing

    _ok(runner, "site", "init")
    _ok(runner, "etl", "--source", str(SYNTHEA))
    _ok(runner, "dq", "--accept", str(ACCEPTED))
    desk = SiteDesk.from_settings(load_settings(), read_only=True)
    try:
        history = desk.data().processing
        assert [e.event for e in history] == ["dq:run", "etl:loaded", "key:created"]  # newest first
        console = Console(width=80, record=True)
        console.print(render_processing(history))
        shown = console.export_text()
        assert "ETL into the CDM" in shown and "data-quality gate" in shown and "site key created" in shown
        assert "PASSED: 1,516 passed" in shown and "27 persons" in shown
        assert all(len(line) <= 80 for line in shown.splitlines())
        desk.export_audit(tmp_path / "exports" / "audit.jsonl")  # the dashboard's export is audited too
        exported = desk.state.audit.records(events=["audit:exported"])
        assert [r.details["via"] for r in exported] == ["dashboard"] and exported[0].actor == "dashboard"
    finally:
        desk.close()

    crate = tmp_path / "crate"
    _ok(runner, "audit", "export", "--ro-crate", str(crate))
    graph = json.loads((crate / "ro-crate-metadata.json").read_text())["@graph"]
    actions = [e for e in graph if e.get("@type") == "CreateAction" and str(e["@id"]).startswith("#processing-")]
    assert [a["additionalType"] for a in actions] == ["key:created", "etl:loaded", "dq:run", "audit:exported"]
    etl = actions[1]
    assert {p["name"]: p["value"] for p in etl["additionalProperty"]}["source_digest"] == folder_digest(SYNTHEA)[0]
    root = next(e for e in graph if e["@id"] == "./")
    assert {"@id": etl["@id"]} in root["mentions"]
    assert etl["agent"]["@id"] in {e["@id"] for e in graph}


def test_a_failed_first_load_that_leaves_no_cdm_records_nothing_and_one_on_a_kept_cdm_records_what_stays(
    fednode_home: Path, tmp_path: Path, runner: CliRunner, stub_engine: None
) -> None:
    lost = tmp_path / "lost.jsonl"
    lost.write_text(
        json.dumps({"note_id": "n1", "person_source_value": "nobody", "note_date": "2024-03-12", "text": "x"}) + "\n"
    )
    _ok(runner, "site", "init")
    _ok(runner, "etl", "--source", str(SYNTHEA), "--notes", str(lost), code=4)  # no note loaded: omop.db removed
    assert not (fednode_home / "omop.db").exists()
    assert [r["event"] for r in _records(runner, tmp_path)] == ["key:created"]
    _ok(runner, "etl", "--source", str(SYNTHEA))
    _ok(runner, "etl", "--source", str(SYNTHEA), "--notes", str(lost), code=4)  # the CDM stays: both recorded
    events = [r["event"] for r in _records(runner, tmp_path)]
    assert events[-3:] == ["etl:loaded", "etl:loaded", "notes:loaded"]
