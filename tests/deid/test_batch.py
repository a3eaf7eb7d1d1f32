"""Bad input: every note is de-identified or quarantined with a reason; nothing lost; no PHI in any log line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from deid.batch import BatchOptions, DeidentifiedRecord, QuarantinedRecord, deidentify_lines, read_lines
from deid.engine import Deidentifier

PHI = ["Ola Nordmann", "12119616032", "22 33 44 55", "ola@helse.no", "Storgata 12"]
OPTIONS = BatchOptions("surrogate", b"k" * 32, "en", 1_000_000)


def _note(note_id: str, text: str, lang: str | None = "nb", **extra: object) -> bytes:
    obj: dict[str, object] = {
        "note_id": note_id,
        "person_source_value": "p1",
        "note_date": "2024-03-12",
        "title": "Epikrise",
        "text": text,
        **extra,
    }
    if lang is not None:
        obj["lang"] = lang
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_every_note_deidentified_or_quarantined(
    tmp_path: Path, deidentifier: Deidentifier, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    phi_text = "Pasient Ola Nordmann, fnr 12119616032, tlf 22 33 44 55, ola@helse.no, Storgata 12, 0155 Oslo."
    lines = [
        _note("ok-1", phi_text, annotations=[{"start": 0, "end": 7, "label": "Word"}]),
        _note("empty", "   "),
        _note("big", "x" * 2_000_000),  # over the 1 MB limit of OPTIONS
        b'{"note_id": "bad-utf8", "text": "\xff\xfe Ola Nordmann"}',
        b'{"note_id": "not json", ',
        _note("nolang", phi_text, lang="xx"),
        _note("missing", phi_text).replace(b'"person_source_value": "p1", ', b""),
        _note("badspan", phi_text, annotations=[{"start": 5, "end": 999, "label": "X"}]),
        _note("mixed", "Potilas Kalevi Koskinen, hetu 131052-308T; pasient Ola Nordmann.", lang="fi"),
        _note("default-lang", phi_text, lang=None),
    ]
    path = _write(tmp_path / "notes.jsonl", lines)
    caplog.set_level(logging.DEBUG)
    outcomes = list(deidentify_lines(read_lines(path), OPTIONS, deidentifier=deidentifier))
    assert len(outcomes) == len(lines)  # none lost
    reasons = {o.note_id or o.line: o.reason for o in outcomes if isinstance(o, QuarantinedRecord)}
    assert reasons == {
        "empty": "empty_text",
        3: "too_large",
        4: "invalid_utf8",
        5: "invalid_json",
        "nolang": "unsupported_language",
        "missing": "missing_field:person_source_value",
        "badspan": "bad_annotation",
    }
    done = [o for o in outcomes if isinstance(o, DeidentifiedRecord)]
    assert [o.note_id for o in done] == ["ok-1", "mixed", "default-lang"]
    for record in done:
        for secret in [*PHI, "Kalevi Koskinen", "131052-308T"]:
            assert secret not in record.text
    assert done[0].annotations == (((0, 7, "Word")),)  # "Pasient" does not overlap PHI: kept
    assert done[0].phi_counts["NATIONAL_ID"] == 1
    logged = caplog.text + "".join(capfd.readouterr())
    for secret in [*PHI, "Kalevi", "131052-308T"]:
        assert secret not in logged


def test_ten_megabyte_note_is_quarantined_by_default(deidentifier: Deidentifier) -> None:
    from fednode.settings import DeidSettings

    limit = DeidSettings().max_note_bytes
    raw = _note("huge", "Kontroll hos overlege Kari Hansen 12.03.2024. " * (limit // 45))
    assert len(raw) > limit
    options = BatchOptions("tag", b"k" * 32, "en", limit)
    (outcome,) = deidentify_lines([(1, raw)], options, deidentifier=deidentifier)
    assert isinstance(outcome, QuarantinedRecord) and outcome.reason == "too_large"


@pytest.mark.slow
def test_note_longer_than_spacy_limit_is_deidentified_in_chunks(deidentifier: Deidentifier) -> None:
    filler = "Hb 12.3 g/dL, CRP 45 mg/L, stabil.\n" * 1500  # ~52 kB without PHI
    phi = "Kontroll hos overlege Kari Hansen 12.03.2024.\n"
    text = (filler + phi) * 22  # ~1.16 M characters: over spaCy's 1,000,000 limit
    options = BatchOptions("tag", b"k" * 32, "en", 11 * 1024 * 1024)
    (outcome,) = deidentify_lines([(1, _note("long", text))], options, deidentifier=deidentifier)
    assert isinstance(outcome, DeidentifiedRecord)
    assert "Kari Hansen" not in outcome.text and "12.03.2024" not in outcome.text
    assert outcome.text.count("<PERSON>") == 22 and outcome.text.count("<DATE>") == 22


def test_failing_recognizer_quarantines_not_crashes(
    deidentifier: Deidentifier, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("Ola Nordmann 12119616032")  # an exception message may carry PHI

    engine = Deidentifier(key=b"k" * 32, analyzer=deidentifier.analyzer)
    monkeypatch.setattr(engine, "detect", boom)
    caplog.set_level(logging.DEBUG)
    (outcome,) = deidentify_lines([(1, _note("x", "Ola Nordmann"))], OPTIONS, deidentifier=engine)
    assert isinstance(outcome, QuarantinedRecord) and outcome.reason == "deid_failed"
    assert "Ola Nordmann" not in caplog.text and "RuntimeError" in caplog.text


def test_two_worker_processes_keep_order_and_consistency(tmp_path: Path) -> None:
    lines = [_note(f"n{i}", f"Overlege Kari Hansen, kontroll 2024-03-{i + 1:02d}.") for i in range(6)]
    path = _write(tmp_path / "notes.jsonl", lines)
    outcomes = list(deidentify_lines(read_lines(path), OPTIONS, workers=2))
    assert [o.note_id for o in outcomes] == [f"n{i}" for i in range(6)]
    names = {o.text.split(",")[0] for o in outcomes if isinstance(o, DeidentifiedRecord)}
    assert len(names) == 1 and "Kari Hansen" not in next(iter(names))  # same patient, same surrogate, any worker


test_two_worker_processes_keep_order_and_consistency = pytest.mark.slow(
    test_two_worker_processes_keep_order_and_consistency
)


def test_note_date_moves_with_the_dates_in_its_text(deidentifier: Deidentifier) -> None:
    """Issue 15: the note's own date is shifted by the same per-patient offset as the dates in its text, so the
    interval between a patient's notes and the dates they mention survive; another patient moves differently."""
    import datetime as dt

    def note(note_id: str, patient: str, day: str) -> bytes:
        text = f"Innlagt {dt.date.fromisoformat(day):%d.%m.%Y} med pneumoni. Hb 11,9."
        obj = {"note_id": note_id, "person_source_value": patient, "note_date": day, "text": text, "lang": "nb"}
        return json.dumps(obj).encode("utf-8")

    lines = [(1, note("a", "p1", "2024-03-12")), (2, note("b", "p1", "2024-05-02")), (3, note("c", "p2", "2024-03-12"))]
    a, b, c = (o for o in deidentify_lines(lines, OPTIONS, deidentifier=deidentifier))
    assert isinstance(a, DeidentifiedRecord) and isinstance(b, DeidentifiedRecord) and isinstance(c, DeidentifiedRecord)
    shift = a.note_date - dt.date(2024, 3, 12)
    assert shift.days != 0 and shift.days == deidentifier.date_shift_days("p1")
    assert b.note_date - a.note_date == dt.timedelta(days=51)  # the interval between the patient's notes
    assert f"{a.note_date:%d.%m.%Y}" in a.text and "12.03.2024" not in a.text  # text and note_date agree
    assert c.note_date - dt.date(2024, 3, 12) == dt.timedelta(days=deidentifier.date_shift_days("p2")) != shift
    assert a.to_json()["note_date"] == a.note_date.isoformat()
