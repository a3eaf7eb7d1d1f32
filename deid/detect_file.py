"""``fednode deid detect``: spans JSONL from notes JSONL, per the CLI contract (``{"id","text","lang"?}`` in,
``{"id","spans":[{"start","end","label"}]}`` out). A line that cannot be read gets ``"error": <reason>`` and no
spans, so every input line has exactly one output line.
"""

from __future__ import annotations

import json
from pathlib import Path

from deid.batch import read_lines
from deid.engine import Deidentifier
from deid.files import check_input
from deid.labels import normalise_language
from fednode.settings import DeidSettings


def _detect_one(engine: Deidentifier, settings: DeidSettings, raw: bytes) -> dict[str, object]:
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


def detect_file(input_path: Path, output: Path, settings: DeidSettings) -> dict[str, int]:
    """Write one spans line per input line; returns counts (notes, spans, errors)."""
    check_input(input_path)
    engine = Deidentifier(operator="tag")
    notes = spans = errors = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for _, raw in read_lines(input_path):
            result = _detect_one(engine, settings, raw)
            notes += 1
            spans += len(result["spans"])  # type: ignore[arg-type]
            errors += "error" in result
            handle.write(json.dumps(result, ensure_ascii=False) + "\n")
    tmp.replace(output)
    return {"notes": notes, "spans": spans, "errors": errors}
