"""``fednode deid eval``: run the detector over a gold JSONL file and score it (:mod:`deid.evaluate`).

A gold line is ``{"text", "lang"?, "phi": [{start, end, label}], "distractors"?: [{start, end}]}``: the PHI spans,
and optionally the text that must survive (lab values, doses, codes, invalid IDs, eponyms). The whole gold file is
read and checked first (missing, binary, empty or malformed: :class:`NoteInputError` naming the file, line and
field), and only then is the detector built (loading spaCy and Presidio takes seconds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from deid.checks import check_input
from deid.evaluate import EvalReport, Span, distractors_flagged, score_note
from deid.labels import normalise_language
from fednode.errors import NoteInputError

if TYPE_CHECKING:
    from deid.engine import Deidentifier


class GoldNote(NamedTuple):
    """One gold note: its language, text, PHI spans and distractor spans."""

    lang: str
    text: str
    phi: list[Span]
    distractors: list[tuple[int, int]]


def _spans(obj: dict[str, object], key: str, *, labelled: bool) -> list[tuple[int, int, str]]:
    """``obj[key]`` as ``(start, end, label)`` (label ``""`` where not ``labelled``)."""
    raw = obj[key] if labelled else obj.get(key, [])
    if not isinstance(raw, list):
        raise TypeError(key)
    return [(int(s["start"]), int(s["end"]), str(s["label"]) if labelled else "") for s in raw]


def read_gold(path: Path) -> list[GoldNote]:
    """Every gold note of ``path``; raises :class:`NoteInputError` (file, line) for anything that is not one."""
    check_input(path, what="gold")
    out: list[GoldNote] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where: str | None = None
            try:
                obj = json.loads(raw.decode("utf-8"))
                where = "text"
                text = obj["text"]
                if not isinstance(text, str):
                    raise TypeError("text")
                where = "phi"
                gold = _spans(obj, "phi", labelled=True)
                where = "distractors"
                distractors = _spans(obj, "distractors", labelled=False)
            except UnicodeDecodeError:
                raise NoteInputError("not UTF-8 text", file=str(path), line=number) from None
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise NoteInputError(
                    f"not a gold record ({type(exc).__name__})", file=str(path), line=number, field=where
                ) from exc
            for key, spans in (("phi", gold), ("distractors", distractors)):
                if any(not 0 <= start < end <= len(text) for start, end, _ in spans):
                    raise NoteInputError("a span is outside the text", file=str(path), line=number, field=key)
            lang = normalise_language(obj.get("lang"), "en")
            if lang is None:
                raise NoteInputError("unsupported language", file=str(path), line=number, field="lang")
            out.append(GoldNote(lang, text, gold, [(start, end) for start, end, _ in distractors]))
    if not out:
        raise NoteInputError(f"no gold notes in {path.name}", file=str(path))
    return out


def evaluate_file(path: Path, engine: Deidentifier | None = None) -> EvalReport:
    """Score the detector on every note of ``path`` (read and checked before the detector is built)."""
    notes = read_gold(path)
    if engine is None:
        from deid.engine import Deidentifier

        engine = Deidentifier(operator="tag")
    report = EvalReport()
    for note in notes:
        pred = [(s.start, s.end, str(s.label)) for s in engine.detect(note.text, note.lang)]
        flagged = distractors_flagged(note.distractors, pred)
        report.add(note.lang, score_note(note.phi, pred), flagged, len(note.distractors))
    return report
