"""`fednode deid detect|run|eval|gold` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from node.cli.main import app

runner = CliRunner()


TEXT = "Overlege Kari Hansen, fnr 12119616032. Parkinsons sykdom."
DISEASE = TEXT.index("Parkinsons sykdom")


def _notes(path: Path) -> Path:
    rows = [
        {
            "note_id": "n1",
            "id": "n1",
            "person_source_value": "p1",
            "note_date": "2024-03-12",
            "title": "Epikrise",
            "lang": "nb",
            "text": TEXT,
            "annotations": [{"start": DISEASE, "end": DISEASE + 17, "label": "Disease"}],
        },
        {
            "note_id": "n2",
            "id": "n2",
            "person_source_value": "p1",
            "note_date": "2024-03-13",
            "title": "",
            "lang": "zz",
            "text": "Overlege Kari Hansen.",
        },
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_detect_contract(tmp_path: Path, fednode_home: Path) -> None:
    out = tmp_path / "spans.jsonl"
    result = runner.invoke(
        app, ["--json", "deid", "detect", "--input", str(_notes(tmp_path / "in.jsonl")), "--output", str(out)]
    )
    assert result.exit_code == 4, result.output  # one line in an unsupported language: counted, still one line out
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0] == {
        "id": "n1",
        "spans": [{"start": 9, "end": 20, "label": "PERSON"}, {"start": 26, "end": 37, "label": "NATIONAL_ID"}],
    }
    assert lines[1]["error"] == "unsupported_language"


def test_run_file_mode_and_report(tmp_path: Path, fednode_home: Path) -> None:
    out = tmp_path / "deid.jsonl"
    result = runner.invoke(
        app,
        [
            "--json",
            "deid",
            "run",
            "--input",
            str(_notes(tmp_path / "in.jsonl")),
            "--output",
            str(out),
            "--operator",
            "tag",
        ],
    )
    assert result.exit_code == 4, result.output  # one note quarantined: counted; the other is written
    payload = json.loads(result.stdout)
    assert payload["deid"]["deidentified"] == 1 and payload["deid"]["quarantined"] == {"unsupported_language": 1}
    (note,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert note["text"] == "Overlege <PERSON>, fnr <NATIONAL_ID>. Parkinsons sykdom."
    (span,) = note["annotations"]
    assert note["text"][span["start"] : span["end"]] == "Parkinsons sykdom"
    assert json.loads((fednode_home / "reports" / "deid-latest.json").read_text())["deid"]["read"] == 2
    quarantine = tmp_path / "deid.quarantine.jsonl"  # file mode: beside the output, not in the site home
    assert payload["quarantine_file"] == str(quarantine) and "Kari" not in quarantine.read_text()


def test_hmac_without_secret_is_a_usage_error(tmp_path: Path, fednode_home: Path) -> None:
    result = runner.invoke(
        app,
        [
            "--json",
            "deid",
            "run",
            "--input",
            str(_notes(tmp_path / "in.jsonl")),
            "--output",
            str(tmp_path / "o.jsonl"),
            "--operator",
            "hmac",
        ],
    )
    assert result.exit_code == 2
    assert not (tmp_path / "o.jsonl").exists()


def test_missing_input_is_bad_input(tmp_path: Path, fednode_home: Path) -> None:
    result = runner.invoke(
        app, ["--json", "deid", "run", "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 4


def test_gold_then_eval(tmp_path: Path, fednode_home: Path) -> None:
    gold = tmp_path / "gold"
    result = runner.invoke(app, ["--json", "deid", "gold", "--out", str(gold), "--dev", "12", "--test", "12"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--json", "deid", "eval", "--gold", str(gold / "test.jsonl")])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["notes"] == 12
    overall = payload["metrics"]["ALL"]["ANY"]
    assert overall["gold"] > 100 and overall["recall"] > 0.9 and overall["precision"] > 0.9
