"""``fednode deid eval``: run the detector over a gold JSONL file and score it (:mod:`deid.evaluate`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from deid.engine import Deidentifier
from deid.evaluate import EvalReport, Span, evaluate
from deid.labels import normalise_language
from fednode.errors import NoteInputError


def _pairs(path: Path, engine: Deidentifier) -> Iterator[tuple[str, Sequence[Span], Sequence[Span]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text, phi = obj["text"], obj["phi"]
                gold = [(int(s["start"]), int(s["end"]), str(s["label"])) for s in phi]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise NoteInputError(f"not a gold record ({type(exc).__name__})", file=str(path), line=number) from exc
            lang = normalise_language(obj.get("lang"), "en")
            if lang is None:
                raise NoteInputError("unsupported language", file=str(path), line=number, field="lang")
            pred = [(s.start, s.end, str(s.label)) for s in engine.detect(text, lang)]
            yield lang, gold, pred


def evaluate_file(path: Path, engine: Deidentifier | None = None) -> EvalReport:
    """Score the detector on every note of ``path``."""
    if not path.is_file():
        raise NoteInputError("gold file not found", file=str(path))
    return evaluate(_pairs(path, engine or Deidentifier(operator="tag")))
