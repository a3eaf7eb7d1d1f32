"""`fednode etl` / `fednode dq` on ordinary mistakes: every input checked first, one `Error: ...` line, the
documented exit code, and nothing created (issue 13)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

import node.site.notes
from node.cli.main import app
from tests.omop_etl.helpers import SYNTHEA, VOCAB

runner = CliRunner()


SITE = {Path("keys"), Path("keys/site.ed25519.pem"), Path("keys/site.ed25519.pub"), Path("state.db")}
"""What `fednode site init` made (``site_home``): the commands that load data need it."""


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def _one_error_line(stderr: str, start: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and lines[0].startswith(start), stderr


def test_etl_with_a_wrong_vocabulary_path_creates_no_cdm(fednode_home: Path) -> None:
    result = runner.invoke(app, ["etl", "--source", str(SYNTHEA), "--vocab", "/wrong/path"])
    assert result.exit_code == 4
    _one_error_line(result.stderr, "Error: /wrong/path: vocabulary folder does not exist")
    assert _files(fednode_home) == set()


def test_etl_with_a_missing_source_on_a_fresh_home_creates_nothing(fednode_home: Path) -> None:
    result = runner.invoke(app, ["etl", "--source", "/nope"])
    assert result.exit_code == 4
    _one_error_line(result.stderr, "Error: /nope: source folder does not exist")
    assert _files(fednode_home) == set()


def test_etl_whose_vocabulary_breaks_mid_load_leaves_no_database(
    fednode_home: Path, site_home: Path, tmp_path: Path
) -> None:
    vocab = tmp_path / "vocab"
    shutil.copytree(VOCAB, vocab)
    concept = vocab / "CONCEPT.csv"
    lines = concept.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace("1970-01-01", "not-a-date", 1) if "1970-01-01" in lines[5] else lines[5] + ",x,y"
    concept.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["--json", "etl", "--source", str(SYNTHEA), "--vocab", str(vocab)])
    assert result.exit_code == 4, result.output
    assert "CONCEPT.csv:6" in json.loads(result.stdout)["message"]
    assert _files(fednode_home) == SITE  # nothing beyond the site


def test_a_failed_first_load_into_an_existing_empty_file_leaves_it_without_tables(
    fednode_home: Path, tmp_path: Path
) -> None:
    """The schema is created in the load's transaction (SQLite runs DDL outside one unless told otherwise)."""
    vocab = tmp_path / "vocab"
    shutil.copytree(VOCAB, vocab)
    (vocab / "CONCEPT.csv").write_text((VOCAB / "CONCEPT.csv").read_text(encoding="utf-8") + "1,2\n")
    db = tmp_path / "given.db"
    db.touch()
    url = f"sqlite:///{db}"
    result = runner.invoke(app, ["etl", "--source", str(SYNTHEA), "--vocab", str(vocab), "--db", url])
    assert result.exit_code == 4, result.output
    assert db.is_file()
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", ["etl", "dq"])
def test_db_that_is_not_a_url_is_bad_input(fednode_home: Path, command: str) -> None:
    args = [command, "--db", "notaurl"] + (["--source", str(SYNTHEA)] if command == "etl" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 4
    _one_error_line(result.stderr, "Error: --db: not a database URL")
    assert _files(fednode_home) == set()


@pytest.mark.parametrize("command", ["etl", "dq"])
def test_unreachable_postgresql_is_a_service_error_without_the_password(
    fednode_home: Path, site_home: Path, command: str
) -> None:
    url = "postgresql://steward:s3cr3t-pw@127.0.0.1:1/cdm"
    args = ["--json", command, "--db", url] + (["--source", str(SYNTHEA)] if command == "etl" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    _one_error_line(result.stderr, "Error: --db: cannot use the database at postgresql://steward:***@127.0.0.1:1/cdm")
    assert "s3cr3t-pw" not in result.output + result.stderr
    assert json.loads(result.stdout)["exit_code"] == 1
    assert _files(fednode_home) == SITE  # nothing beyond the site


def test_dq_before_etl_says_so_and_creates_nothing(fednode_home: Path) -> None:
    result = runner.invoke(app, ["--json", "dq"])
    assert result.exit_code == 4
    assert "run fednode etl first" in json.loads(result.stdout)["message"]
    _one_error_line(result.stderr, "Error: --db: no CDM at")
    assert _files(fednode_home) == set()


def test_dq_on_a_database_without_the_cdm_schema_says_so(fednode_home: Path, site_home: Path, tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    db.touch()
    result = runner.invoke(app, ["dq", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 4
    _one_error_line(result.stderr, "Error: --db: the database at")
    assert "holds no OMOP CDM" in result.stderr and "run fednode etl first" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "accept.txt: accepted-failures file does not exist"),
        (b"", "accept.txt: no accepted check in the file"),
        (b"# only a comment\n\n", "accept.txt: no accepted check in the file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "accept.txt:1: not a text file"),
        (b"isRequired person.person_id  # known\ncdmField person\n", "accept.txt:2: expected '<check>"),
        (b"isRequired person  # ok\n\xff\xfe broken\n", "accept.txt:2: not a text file"),
    ],
)
def test_dq_accept_file_errors_name_the_file_and_line(
    fednode_home: Path, tmp_path: Path, content: bytes | None, expected: str
) -> None:
    accept = tmp_path / "accept.txt"
    if content is not None:
        accept.write_bytes(content)
    result = runner.invoke(app, ["--json", "dq", "--accept", str(accept)])
    assert result.exit_code == 4, result.output
    assert expected in json.loads(result.stdout)["message"]
    assert "Traceback" not in result.stderr
    assert _files(fednode_home) == set()


def _notes_file(tmp_path: Path) -> Path:
    notes = tmp_path / "notes.jsonl"
    notes.write_text(
        '{"note_id": "1", "person_source_value": "p", "note_date": "2020-01-01", "title": "t", "text": "x"}\n'
    )
    return notes


def test_etl_notes_on_a_fresh_home_fails_before_deidentifying(
    fednode_home: Path, site_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("de-identification ran without a CDM to load into")

    monkeypatch.setattr(node.site.notes, "deidentify_notes_into_cdm", must_not_run)
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "a-test-site-secret-of-some-length")
    result = runner.invoke(app, ["--json", "etl", "--notes", str(_notes_file(tmp_path))])
    assert result.exit_code == 4
    error = json.loads(result.stdout)
    assert error["ok"] is False and "load persons first with fednode etl --source" in error["message"]
    assert _files(fednode_home) == SITE  # nothing beyond the site


@pytest.mark.parametrize("content", [b"", b"\x00\x01binary\x00"])
def test_etl_notes_file_that_is_empty_or_binary_is_bad_input(
    fednode_home: Path, tmp_path: Path, content: bytes
) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_bytes(content)
    result = runner.invoke(app, ["etl", "--source", str(SYNTHEA), "--notes", str(notes)])
    assert result.exit_code == 4
    _one_error_line(result.stderr, f"Error: {notes}")
    assert _files(fednode_home) == set()


def _quarantined_everything(_settings: Any, _notes: Path, _db: str | None = None, **_kw: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "operator": "surrogate",
        "deid": {"read": 2, "deidentified": 2, "quarantined": {}, "phi": {"PERSON": 2}, "annotations_kept": 0},
        "load": {"inserted": 0, "updated": 0, "unchanged": 0, "nlp_rows": 0, "quarantined": {"unknown_person": 2}},
        "quarantine_file": None,
        "seconds": 0.1,
    }


def test_etl_notes_whose_persons_are_not_in_the_cdm_fails_with_the_reason(
    fednode_home: Path, site_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(node.site.notes, "deidentify_notes_into_cdm", _quarantined_everything)
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "a-test-site-secret-of-some-length")
    result = runner.invoke(app, ["--json", "etl", "--source", str(SYNTHEA), "--notes", str(_notes_file(tmp_path))])
    assert result.exit_code == 4
    message = json.loads(result.stdout)["message"]
    assert "no note was loaded" in message and "unknown_person x2" in message
    assert "no person in the CDM" in message
    assert not (fednode_home / "omop.db").exists()  # the command failed: the new CDM is removed with it


def test_etl_notes_without_the_site_secret_is_refused_before_the_extract_loads(
    fednode_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the ETL ran although the notes could not be loaded")

    monkeypatch.delenv("FEDNODE_DEID__SECRET", raising=False)
    monkeypatch.setattr("node.cli.commands_data._run_etl", must_not_run)
    result = runner.invoke(app, ["--json", "etl", "--source", str(SYNTHEA), "--notes", str(_notes_file(tmp_path))])
    assert result.exit_code == 2, result.output
    assert "FEDNODE_DEID__SECRET" in json.loads(result.stdout)["message"]
    assert _files(fednode_home) == set()


@pytest.mark.parametrize("command", ["etl", "dq"])
def test_db_file_that_is_not_a_database_is_bad_input(
    fednode_home: Path, site_home: Path, tmp_path: Path, command: str
) -> None:
    db = tmp_path / "omop.db"
    db.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    args = [command, "--db", f"sqlite:///{db}"] + (["--source", str(SYNTHEA)] if command == "etl" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 4, result.output
    _one_error_line(result.stderr, f"Error: --db: {db}: not a SQLite database")
    assert db.read_bytes().startswith(b"\x89PNG")


def test_a_failed_first_load_into_a_new_home_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "not-yet" / "home"
    monkeypatch.setenv("FEDNODE_HOME", str(home))
    monkeypatch.delenv("FEDNODE_CONFIG", raising=False)
    vocab = tmp_path / "vocab"
    shutil.copytree(VOCAB, vocab)
    (vocab / "CONCEPT.csv").write_text((VOCAB / "CONCEPT.csv").read_text(encoding="utf-8") + "1,2\n")
    result = runner.invoke(app, ["etl", "--source", str(SYNTHEA), "--vocab", str(vocab)])
    assert result.exit_code == 4, result.output
    assert not (tmp_path / "not-yet").exists()
