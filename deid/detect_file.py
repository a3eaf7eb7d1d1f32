"""``fednode deid detect``: spans JSONL from notes JSONL, per the CLI contract (``{"id","text","lang"?}`` in,
``{"id","spans":[{"start","end","label"}]}`` out). A line that cannot be read gets ``"error": <reason>`` and no
spans, so every input line has exactly one output line.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deid.batch import read_lines
from deid.checks import check_input
from deid.labels import normalise_language
from fednode.atomic import atomic_text
from fednode.errors import NoteInputError
from fednode.settings import DeidSettings

if TYPE_CHECKING:
    from deid.engine import Deidentifier


def _detect_one(engine: Deidentifier, settings: DeidSettings, raw: bytes) -> dict[str, Any]:
    if len(raw) > settings.max_note_bytes:
        return {"id": None, "spans": [], "error": "too_large"}
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"id": None, "spans": [], "error": "invalid_json"}
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return {"id": obj.get("id") if isinstance(obj, dict) else None, "spans": [], "error": "missing_field:text"}
    note_id = obj.get("id", obj.get("note_id"))
    lang = normalise_language(obj.get("lang") if isinstance(obj.get("lang"), str) else None, settings.default_language)
    if lang is None:
        return {"id": note_id, "spans": [], "error": "unsupported_language"}
    return {"id": note_id, "spans": [s.to_json() for s in engine.detect(obj["text"], lang)]}


def detect_file(input_path: Path, output: Path, settings: DeidSettings) -> dict[str, Any]:
    """Write one spans line per input line (atomically); returns counts (notes, spans, errors, spans per label,
    errors per reason). Raises
    :class:`NoteInputError`, writing nothing, when the input is not a notes file or no line of it could be read."""
    check_input(input_path)  # before the models load: a wrong path fails at once
    from deid.engine import Deidentifier

    engine = Deidentifier(operator="tag")
    notes = spans = errors = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    reasons: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    with atomic_text(output) as handle:  # renamed into place only if the block ends without an error
        for _, raw in read_lines(input_path):
            result = _detect_one(engine, settings, raw)
            notes += 1
            found: list[dict[str, Any]] = result["spans"]
            spans += len(found)
            labels.update(str(span["label"]) for span in found)
            if "error" in result:
                errors += 1
                reasons[str(result["error"])] += 1
            handle.write(json.dumps(result, ensure_ascii=False) + "\n")
        if errors == notes:
            why = ", ".join(f"{reason} x{n}" for reason, n in sorted(reasons.items()))
            raise NoteInputError(f"no note could be read ({why}); nothing written", file=str(input_path))
    return {
        "notes": notes,
        "spans": spans,
        "errors": errors,
        "labels": dict(sorted(labels.items())),
        "error_reasons": dict(sorted(reasons.items())),
    }
