"""Batch de-identification of a notes JSONL file: every note is de-identified or quarantined with a reason.

Input lines: ``{"note_id","person_source_value","note_date","title","text","lang"?,"annotations"?}``. A line that
cannot be decoded, parsed or processed is quarantined (``invalid_utf8``, ``invalid_json``, ``missing_field``,
``empty_text``, ``too_large``, ``unsupported_language``, ``bad_annotation``, ``deid_failed``); nothing is
dropped silently and nothing half-processed is returned. Logs carry counts and reasons, never text.

``note_date`` moves by the patient's date offset, the same as every date in the patient's notes' text
(:meth:`deid.engine.Deidentifier.date_shift_days`), so intervals between a patient's notes survive.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deid.checks import Operator
from deid.labels import normalise_language

if TYPE_CHECKING:
    from deid.engine import Deidentifier

log = logging.getLogger("fednode.deid.batch")

REQUIRED = ("note_id", "person_source_value", "note_date", "text")


@dataclass(frozen=True)
class DeidentifiedRecord:
    """One note after de-identification: text and title de-identified, annotations re-aligned."""

    line: int
    note_id: str
    person_source_value: str
    note_date: dt.date
    title: str
    text: str
    lang: str
    annotations: tuple[tuple[int, int, str], ...]
    phi_counts: dict[str, int]
    annotations_dropped: int

    def to_json(self) -> dict[str, Any]:
        return {
            "note_id": self.note_id,
            "person_source_value": self.person_source_value,
            "note_date": self.note_date.isoformat(),
            "title": self.title,
            "text": self.text,
            "lang": self.lang,
            "annotations": [{"start": s, "end": e, "label": lab} for s, e, lab in self.annotations],
        }


@dataclass(frozen=True)
class QuarantinedRecord:
    """A note that was not de-identified: where it is and why (no content)."""

    line: int
    note_id: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "note_id": self.note_id, "reason": self.reason}


Outcome = DeidentifiedRecord | QuarantinedRecord


@dataclass
class BatchReport:
    """Counts of one run (safe to log and to show: no text, no identifiers)."""

    read: int = 0
    deidentified: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    phi: Counter[str] = field(default_factory=Counter)
    annotations_kept: int = 0
    annotations_dropped: int = 0

    def add(self, outcome: Outcome) -> None:
        self.read += 1
        if isinstance(outcome, QuarantinedRecord):
            self.quarantined[outcome.reason] += 1
            return
        self.deidentified += 1
        self.phi.update(outcome.phi_counts)
        self.annotations_kept += len(outcome.annotations)
        self.annotations_dropped += outcome.annotations_dropped

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "deidentified": self.deidentified,
            "quarantined": dict(sorted(self.quarantined.items())),
            "phi": dict(sorted(self.phi.items())),
            "annotations_kept": self.annotations_kept,
            "annotations_dropped_overlapping_phi": self.annotations_dropped,
        }


@dataclass(frozen=True)
class BatchOptions:
    """What every worker needs to build its own :class:`Deidentifier`."""

    operator: Operator
    key: bytes
    default_language: str
    max_note_bytes: int


def _quarantine(line: int, note_id: object, reason: str) -> QuarantinedRecord:
    nid = note_id if isinstance(note_id, str) and note_id else None
    return QuarantinedRecord(line, nid[:255] if nid else None, reason)


def _annotations(raw: object, text_length: int) -> list[tuple[int, int, str]] | None:
    if raw is None:
        return []
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        start, end, label = item.get("start"), item.get("end"), item.get("label")
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(label, str)):
            return None
        if not 0 <= start < end <= text_length:
            return None
        out.append((start, end, label))
    return out


def process_line(deidentifier: Deidentifier, options: BatchOptions, line: int, raw: bytes) -> Outcome:
    """De-identify one JSONL line, or say why it is quarantined. Never raises for bad input."""
    if len(raw) > options.max_note_bytes:
        return _quarantine(line, None, "too_large")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _quarantine(line, None, "invalid_utf8")
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError:
        return _quarantine(line, None, "invalid_json")
    if not isinstance(obj, dict):
        return _quarantine(line, None, "invalid_json")
    note_id = obj.get("note_id")
    for name in REQUIRED:
        if not isinstance(obj.get(name), str):
            return _quarantine(line, note_id, f"missing_field:{name}")
    text: str = obj["text"]
    if not text.strip():
        return _quarantine(line, note_id, "empty_text")
    lang = normalise_language(obj.get("lang") if isinstance(obj.get("lang"), str) else None, options.default_language)
    if lang is None:
        return _quarantine(line, note_id, "unsupported_language")
    try:
        note_date = dt.date.fromisoformat(obj["note_date"][:10])
    except ValueError:
        return _quarantine(line, note_id, "invalid_note_date")
    annotations = _annotations(obj.get("annotations"), len(text))
    if annotations is None:
        return _quarantine(line, note_id, "bad_annotation")
    patient = obj["person_source_value"]
    try:
        note_date += dt.timedelta(days=deidentifier.date_shift_days(patient))
    except OverflowError:
        return _quarantine(line, note_id, "invalid_note_date")
    try:
        result = deidentifier.deidentify(text, lang, patient, options.operator)
        title = obj.get("title") if isinstance(obj.get("title"), str) else ""
        new_title = deidentifier.deidentify(title, lang, patient, options.operator).text if title else ""
    except Exception as exc:  # a recognizer bug must quarantine the note, not lose the batch
        log.warning("deid.note_failed line=%d error=%s", line, type(exc).__name__)
        return _quarantine(line, note_id, "deid_failed")
    from deid.operators import label_counts  # loaded with the engine, never before the input is checked

    kept: list[tuple[int, int, str]] = []
    for start, end, label in annotations:
        moved = result.offsets.map_span(start, end)
        if moved is not None:
            kept.append((moved[0], moved[1], label))
    return DeidentifiedRecord(
        line=line,
        note_id=str(note_id),
        person_source_value=obj["person_source_value"],
        note_date=note_date,
        title=new_title,
        text=result.text,
        lang=lang,
        annotations=tuple(kept),
        phi_counts=label_counts(list(result.phi)),
        annotations_dropped=len(annotations) - len(kept),
    )


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw bytes)`` of every non-blank line, 1-based, as bytes (decoding is per note)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            stripped = raw.rstrip(b"\r\n")
            if stripped.strip():
                yield number, stripped


_WORKER: tuple[Deidentifier, BatchOptions] | None = None


def _init_worker(options: BatchOptions) -> None:
    from deid.engine import Deidentifier

    global _WORKER  # one engine per worker process, built once
    _WORKER = (Deidentifier(operator=options.operator, key=options.key), options)


def _work(item: tuple[int, bytes]) -> Outcome:
    if _WORKER is None:  # pragma: no cover - the pool initializer always ran
        raise RuntimeError("worker not initialised")
    deidentifier, options = _WORKER
    return process_line(deidentifier, options, item[0], item[1])


def deidentify_lines(
    lines: Iterable[tuple[int, bytes]],
    options: BatchOptions,
    *,
    workers: int = 1,
    deidentifier: Deidentifier | None = None,
) -> Iterator[Outcome]:
    """Outcomes in input order, with ``workers`` processes (1 = this process)."""
    if workers <= 1:
        from deid.engine import Deidentifier

        engine = deidentifier or Deidentifier(operator=options.operator, key=options.key)
        for number, raw in lines:
            yield process_line(engine, options, number, raw)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(options,)) as pool:
        yield from pool.imap(_work, lines, chunksize=8)
