"""`fednode deid run|detect|eval|gold` tell the truth (issue 13): nothing done is not success, bad inputs fail
before any model loads, the CDM needs the site secret, the gold set is reproducible and never overwritten.

Most tests replace the de-identifier with a stub that tags the name "Kari Hansen" (they are about the command,
not the recognizers, and run in milliseconds); the gold-set test uses the real generator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert
from typer.testing import CliRunner

from node.cli.main import app
from omop_etl.cdm import Person, create_cdm
from tests.node.cli.deid_stub import NAME, StubDeidentifier

REPO = Path(__file__).resolve().parents[3]
BINARY = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\xff\xfe" * 50


def _never(*_: Any, **__: Any) -> Any:
    raise AssertionError("the analyzer was built before the input was checked")


@pytest.fixture
def stub_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deid.engine.Deidentifier", StubDeidentifier)
    monkeypatch.setattr("deid.engine.build_analyzer", _never)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("FEDNODE_DEID__SECRET", raising=False)
    return CliRunner()


def _note(note_id: str, person: str) -> dict[str, Any]:
    return {
        "note_id": note_id,
        "id": note_id,
        "person_source_value": person,
        "note_date": "2024-03-12",
        "title": "",
        "lang": "nb",
        "text": f"Overlege {NAME} ser pasienten. Parkinsons sykdom.",
    }


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _cdm(home: Path, persons: list[str]) -> str:
    url = f"sqlite:///{home / 'omop.db'}"
    engine = create_engine(url)
    create_cdm(engine)
    with engine.begin() as conn:
        for pid, psv in enumerate(persons, start=1):
            conn.execute(
                insert(Person),
                {
                    "person_id": pid,
                    "gender_concept_id": 0,
                    "year_of_birth": 1950,
                    "race_concept_id": 0,
                    "ethnicity_concept_id": 0,
                    "person_source_value": psv,
                },
            )
    engine.dispose()
    return url


def _fits_80(text: str, tmp_path: Path) -> bool:
    """Every line fits 80 columns, except a path (printed whole, never cut, so it can be copied)."""
    return all(len(line) <= 80 or str(tmp_path) in line for line in text.splitlines())


def _last_json(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result


# 1. quarantined notes: a real quarantine file with reasons per line; nothing loaded is exit 4
def test_run_into_cdm_with_unknown_persons_fails_with_a_quarantine_file(
    tmp_path: Path,
    fednode_home: Path,
    site_home: Path,
    runner: CliRunner,
    stub_engine: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "test-site-secret")
    _cdm(fednode_home, ["p1"])
    notes = _jsonl(tmp_path / "notes.jsonl", [_note(f"n{i}", "p-elsewhere") for i in range(3)])
    result = runner.invoke(app, ["--json", "deid", "run", "--input", str(notes)])
    assert result.exit_code == 4, result.output
    payload = _last_json(result.stdout)
    assert payload["ok"] is False and payload["loaded"] == 0 and payload["quarantined"] == 3
    assert payload["exit_code"] == 4 and "no note was loaded" in payload["message"]
    quarantine = Path(payload["quarantine_file"])
    records = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["note_id"], r["reason"]) for r in records] == [
        (1, "n0", "unknown_person"),
        (2, "n1", "unknown_person"),
        (3, "n2", "unknown_person"),
    ]
    assert NAME not in quarantine.read_text(encoding="utf-8") and "Parkinson" not in quarantine.read_text()
    assert str(notes) in result.stderr and str(quarantine) in result.stderr


def test_run_into_cdm_partly_quarantined_is_a_counted_failure_that_keeps_the_good_notes(
    tmp_path: Path,
    fednode_home: Path,
    site_home: Path,
    runner: CliRunner,
    stub_engine: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "test-site-secret")
    _cdm(fednode_home, ["p1"])
    notes = _jsonl(tmp_path / "notes.jsonl", [_note("n1", "p1"), _note("n2", "p-elsewhere")])
    result = runner.invoke(app, ["deid", "run", "--input", str(notes)])
    assert result.exit_code == 4, result.output
    assert "quarantined 1 note(s): unknown_person x1" in result.stdout
    assert "loaded into the CDM: 1 (1 new" in result.stdout
    (qfile,) = (fednode_home / "quarantine").glob("deid-*.jsonl")
    assert json.loads(qfile.read_text())["reason"] == "unknown_person"
    assert "1 note(s) quarantined (unknown_person x1); the other 1 were loaded into the CDM" in result.stderr
    assert str(qfile) in result.stderr
    result = runner.invoke(app, ["--json", "deid", "run", "--input", str(notes)])  # the rerun: same names, unchanged
    payload = _last_json(result.stdout)
    assert result.exit_code == 4 and payload["ok"] is False and payload["load"]["unchanged"] == 1


# 2. binary and empty inputs are bad input (4), naming the file (and line)
@pytest.mark.parametrize("command", ["run", "detect"])
def test_binary_and_empty_notes_are_bad_input(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None, command: str
) -> None:
    binary = tmp_path / "notes.bin"
    binary.write_bytes(b'{"note_id": "n1"}\n' + BINARY)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    for path, expected in ((binary, f"{binary}:2: not a UTF-8 text file"), (empty, "no notes in empty.jsonl")):
        result = runner.invoke(app, ["deid", command, "--input", str(path), "--output", str(out)])
        assert result.exit_code == 4, result.output
        assert expected in result.stderr and "Traceback" not in result.output
    assert not out.exists() and not (fednode_home / "quarantine").exists()


def test_run_where_no_note_can_be_read_writes_no_output(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"note_id": "n1", "text": "broken\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["deid", "run", "--input", str(notes), "--output", str(out)])
    assert result.exit_code == 4, result.output
    assert "no note was de-identified (1 quarantined: invalid_json x1)" in result.stderr
    assert not out.exists()
    result = runner.invoke(app, ["deid", "detect", "--input", str(notes), "--output", str(out)])
    assert result.exit_code == 4 and "invalid_json x1" in result.stderr and not out.exists()


def test_detect_with_a_broken_line_is_exit_4_and_keeps_one_line_per_input(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps(_note("n1", "p1")) + '\n{"id": "n2", "text": \n', encoding="utf-8")
    out = tmp_path / "spans.jsonl"
    result = runner.invoke(app, ["--json", "deid", "detect", "--input", str(notes), "--output", str(out)])
    assert result.exit_code == 4, result.output
    payload = _last_json(result.stdout)
    assert payload["ok"] is False and payload["errors"] == 1 and payload["labels"] == {"PERSON": 1}
    assert f"{notes}: 1 of 2 line(s) could not be read (invalid_json x1)" in result.stderr
    assert [json.loads(line).get("error") for line in out.read_text().splitlines()] == [None, "invalid_json"]


# 3. eval: missing, empty or binary gold is bad input, never "targets met"
def test_eval_refuses_missing_empty_and_binary_gold(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    empty = tmp_path / "gold.jsonl"
    empty.write_text("", encoding="utf-8")
    binary = tmp_path / "gold.bin"
    binary.write_bytes(BINARY)
    broken = _jsonl(tmp_path / "broken.jsonl", [{"text": "abc", "lang": "en", "phi": []}])
    broken.write_text(broken.read_text() + '{"text": 1}\n', encoding="utf-8")
    cases = {
        tmp_path / "nope.jsonl": "gold file not found",
        empty: "no gold in gold.jsonl",
        binary: f"{binary}:1: not a UTF-8 text file",
        broken: f"{broken}:2 field 'text': not a gold record",
    }
    for path, expected in cases.items():
        result = runner.invoke(app, ["deid", "eval", "--gold", str(path)])
        assert result.exit_code == 4, (path, result.output)
        assert expected in result.stderr and "targets met" not in result.output
        assert "Traceback" not in result.output


def _gold(text: str, phi: list[tuple[str, str]], distractors: list[str]) -> dict[str, Any]:
    """A gold record for ``text``: each ``(label, phrase)`` and distractor phrase at its first place in the text."""

    def at(phrase: str) -> dict[str, int]:
        start = text.index(phrase)
        return {"start": start, "end": start + len(phrase)}

    return {
        "text": text,
        "lang": "nb",
        "phi": [{**at(phrase), "label": label} for label, phrase in phi],
        "distractors": [at(phrase) for phrase in distractors],
    }


def test_eval_checks_the_issue_targets_and_exits_4_when_one_is_missed(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    met = _jsonl(
        tmp_path / "met.jsonl",
        [_gold(f"Overlege {NAME} ser pasienten. INR 2,4.", [("PERSON", NAME)], ["INR 2,4"])],
    )
    result = runner.invoke(app, ["--json", "deid", "eval", "--gold", str(met)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] and payload["targets_missed"] == [] and payload["not_checked"] == []
    assert payload["distractors"]["ALL"] == {"flagged": 0, "total": 1, "rate": 0.0}

    missed = _jsonl(
        tmp_path / "missed.jsonl",
        [
            _gold(f"Overlege {NAME} ser pasienten 12.03.2024.", [("PERSON", NAME), ("DATE", "12.03.2024")], []),
            _gold(f"{NAME} syndrom er utelukket. CRP 5.", [], [f"{NAME} syndrom", "CRP 5"]),
        ],
    )
    result = runner.invoke(app, ["deid", "eval", "--gold", str(missed)])
    assert result.exit_code == 4, result.output
    for target in ("recall 0.500 < 0.98", "DATE removed 0.000 < 0.95", "nb recall 0.500 < 0.95"):
        assert target in result.stderr
    assert "distractors flagged 0.500 > 0.05" in result.stderr
    assert "PERSON removed" not in result.stderr and "targets met" not in result.output

    result = runner.invoke(app, ["deid", "eval", "--gold", str(met), "--max-distractors", "0", "--min-recall", "1"])
    assert result.exit_code == 0, result.output  # the goal can be set from the command line


def test_eval_without_distractors_says_they_were_not_checked(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    gold = _jsonl(tmp_path / "gold.jsonl", [_gold(f"Overlege {NAME} ser pasienten.", [("PERSON", NAME)], [])])
    result = runner.invoke(app, ["deid", "eval", "--gold", str(gold)])
    assert result.exit_code == 0, result.output
    assert "not checked: distractors (the gold set marks none)" in result.output and "targets met" in result.output


def test_eval_names_the_line_and_field_of_a_bad_distractor(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    good = _gold(f"Overlege {NAME}.", [("PERSON", NAME)], [])
    rows = [good, {**good, "distractors": [{"start": 3}]}, {**good, "distractors": [{"start": 3, "end": 99}]}]
    for line, row in ((2, rows[1]), (2, rows[2])):
        path = _jsonl(tmp_path / "gold.jsonl", [good, row])
        result = runner.invoke(app, ["deid", "eval", "--gold", str(path)])
        assert result.exit_code == 4, result.output
        assert f"gold.jsonl:{line} field 'distractors'" in result.stderr, result.stderr


# 4. the CDM needs the site secret; file mode does not
def test_run_into_cdm_without_a_site_secret_is_refused(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    url = _cdm(fednode_home, ["p1"])
    notes = _jsonl(tmp_path / "notes.jsonl", [_note("n1", "p1")])
    result = runner.invoke(app, ["--json", "deid", "run", "--input", str(notes), "--db", url])
    assert result.exit_code == 2, result.output
    assert "FEDNODE_DEID__SECRET" in _last_json(result.stdout)["message"]
    assert not (fednode_home / "quarantine").exists()
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["deid", "run", "--input", str(notes), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert NAME not in out.read_text(encoding="utf-8")


def test_run_into_cdm_before_etl_creates_nothing(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "test-site-secret")
    notes = _jsonl(tmp_path / "notes.jsonl", [_note("n1", "p1")])
    result = runner.invoke(app, ["deid", "run", "--input", str(notes)])
    assert result.exit_code == 4, result.output
    assert "fednode etl" in result.stderr
    assert sorted(p.name for p in fednode_home.iterdir()) == []


# 5. deid gold: --out required, never overwrites, reproduces the committed set
def test_gold_needs_out_and_never_overwrites(tmp_path: Path, fednode_home: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["deid", "gold"])
    assert result.exit_code == 2, result.output
    out = tmp_path / "gold"
    out.mkdir()
    (out / "dev.jsonl").write_text("mine\n", encoding="utf-8")
    result = runner.invoke(app, ["deid", "gold", "--out", str(out), "--dev", "2", "--test", "2"])
    assert result.exit_code == 4, result.output
    assert "not empty" in result.stderr and (out / "dev.jsonl").read_text() == "mine\n"
    result = runner.invoke(app, ["deid", "gold", "--out", str(out), "--dev", "2", "--test", "2", "--force"])
    assert result.exit_code == 0, result.output
    assert len((out / "dev.jsonl").read_text().splitlines()) == 2


def test_gold_reproduces_the_committed_set(tmp_path: Path, fednode_home: Path, runner: CliRunner) -> None:
    out = tmp_path / "gold"
    result = runner.invoke(app, ["--json", "deid", "gold", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("dev.jsonl", "test.jsonl"):
        assert (out / name).read_bytes() == (REPO / "data" / "deid-gold" / name).read_bytes(), name


# 6. inputs are checked before the analyzer is built (build_analyzer raises in these tests)
def test_bad_inputs_fail_before_the_analyzer_is_built(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("deid.engine.build_analyzer", _never)
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(BINARY)
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    out = tmp_path / "o.jsonl"
    for path in (tmp_path / "missing.jsonl", binary, empty, tmp_path):
        for args in (
            ["deid", "run", "--input", str(path), "--output", str(out)],
            ["deid", "run", "--input", str(path)],
            ["deid", "detect", "--input", str(path), "--output", str(out)],
            ["deid", "eval", "--gold", str(path)],
        ):
            result = runner.invoke(app, args)
            assert result.exit_code == 4, (args, result.output)
            assert "analyzer was built" not in result.output


def test_an_output_that_is_a_folder_fails_before_the_analyzer_is_built(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("deid.engine.build_analyzer", _never)
    notes = _jsonl(tmp_path / "notes.jsonl", [_note("n1", "p1")])
    gold = _jsonl(tmp_path / "gold.jsonl", [{"text": "abc", "lang": "en", "phi": []}])
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    for out in (tmp_path, tmp_path / "afile" / "out.jsonl"):
        for args in (
            ["deid", "run", "--input", str(notes), "--output", str(out)],
            ["deid", "detect", "--input", str(notes), "--output", str(out)],
            ["deid", "eval", "--gold", str(gold), "--output", str(out)],
        ):
            result = runner.invoke(app, args)
            assert result.exit_code == 4, (args, result.output)
            assert f"Error: {out}: " in result.stderr and "--output" in result.stderr


# 7. person-readable summaries at 80 columns; --json gives the JSON
def test_run_and_detect_print_readable_summaries(
    tmp_path: Path, fednode_home: Path, runner: CliRunner, stub_engine: None
) -> None:
    notes = _jsonl(tmp_path / "notes.jsonl", [_note("n1", "p1"), {**_note("n2", "p1"), "lang": "zz"}])
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["deid", "run", "--input", str(notes), "--output", str(out)])
    assert result.exit_code == 4, result.output  # one note quarantined: counted, the other one written
    text = result.stdout
    assert "names" in text and "PERSON" in text and "{" not in text
    assert "de-identified: 1 of 2 notes" in text and "unsupported_language x1" in text
    assert _fits_80(text, tmp_path)
    assert len(out.read_text().splitlines()) == 1
    notes = _jsonl(tmp_path / "notes.jsonl", [_note("n1", "p1")])
    result = runner.invoke(app, ["deid", "run", "--input", str(notes), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "de-identified: 1 of 1 notes" in result.stdout and "Warning" not in result.stdout
    result = runner.invoke(app, ["deid", "detect", "--input", str(notes), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "names" in result.stdout and "{" not in result.stdout
    assert _fits_80(result.stdout, tmp_path)
    result = runner.invoke(app, ["--json", "deid", "detect", "--input", str(notes), "--output", str(out)])
    assert _last_json(result.stdout)["labels"] == {"PERSON": 1}
