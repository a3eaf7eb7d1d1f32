"""``fednode deid eval``: run the detector over a gold JSONL file and score it (:mod:`deid.evaluate`).

The whole gold file is read and checked first (missing, binary, empty or malformed: :class:`NoteInputError` naming
the file and line), and only then is the detector built (loading spaCy and Presidio takes seconds).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deid.checks import check_input
from deid.evaluate import EvalReport, Span, evaluate
from deid.labels import normalise_language
from fednode.errors import NoteInputError

if TYPE_CHECKING:
    from deid.engine import Deidentifier

GoldNote = tuple[str, str, list[Span]]
"""``(language, text, gold spans)``."""


def read_gold(path: Path) -> list[GoldNote]:
    """Every gold note of ``path``; raises :class:`NoteInputError` (file, line) for anything that is not one."""
    check_input(path, what="gold")
    out: list[GoldNote] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                text, phi = obj["text"], obj["phi"]
                if not isinstance(text, str):
                    raise TypeError("text")
                gold = [(int(s["start"]), int(s["end"]), str(s["label"])) for s in phi]
            except UnicodeDecodeError:
                raise NoteInputError("not UTF-8 text", file=str(path), line=number) from None
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise NoteInputError(f"not a gold record ({type(exc).__name__})", file=str(path), line=number) from exc
            if any(not 0 <= start < end <= len(text) for start, end, _ in gold):
                raise NoteInputError("a gold span is outside the text", file=str(path), line=number, field="phi")
            lang = normalise_language(obj.get("lang"), "en")
            if lang is None:
                raise NoteInputError("unsupported language", file=str(path), line=number, field="lang")
            out.append((lang, text, gold))
    if not out:
        raise NoteInputError(f"no gold notes in {path.name}", file=str(path))
    return out


def _pairs(notes: list[GoldNote], engine: Deidentifier) -> Iterator[tuple[str, Sequence[Span], Sequence[Span]]]:
    for lang, text, gold in notes:
        pred = [(s.start, s.end, str(s.label)) for s in engine.detect(text, lang)]
        yield lang, gold, pred


def evaluate_file(path: Path, engine: Deidentifier | None = None) -> EvalReport:
    """Score the detector on every note of ``path`` (read and checked before the detector is built)."""
    notes = read_gold(path)
    if engine is None:
        from deid.engine import Deidentifier

        engine = Deidentifier(operator="tag")
    return evaluate(_pairs(notes, engine))
