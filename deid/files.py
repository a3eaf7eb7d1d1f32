"""File mode: notes JSONL in, de-identified notes JSONL out (written atomically), quarantine records beside it.

The site secret (``settings.deid.secret``) keys surrogates and HMAC pseudonyms. Without one, surrogates use a
random per-run key (consistent within the run only) and HMAC pseudonyms are refused; loading surrogates into the
CDM without one is refused (``persistent=True``), since a rerun would rewrite every note with new names.

Inputs are checked before any model is loaded (:mod:`deid.checks`; this module imports no model either).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deid.batch import (
    BatchOptions,
    BatchReport,
    DeidentifiedRecord,
    Outcome,
    QuarantinedRecord,
    deidentify_lines,
    read_lines,
)
from deid.checks import check_input, check_operator
from fednode import atomic
from fednode.settings import DeidSettings

log = logging.getLogger("fednode.deid.files")


def options_from_settings(
    settings: DeidSettings, operator: str | None = None, *, persistent: bool = False
) -> BatchOptions:
    """Batch options from the deid settings section (the key is derived from the site secret). ``persistent``:
    the result is stored in the CDM, so surrogates need the site secret (:func:`deid.checks.check_operator`)."""
    op = check_operator(settings, operator, persistent=persistent)
    if settings.secret is not None:
        key = hashlib.sha256(b"fednode-deid-v1\x00" + settings.secret.get_secret_value().encode("utf-8")).digest()
    else:
        key = os.urandom(32)
        log.warning("deid.ephemeral_key surrogates are consistent within this run only; set a site secret")
    return BatchOptions(op, key, settings.default_language, settings.max_note_bytes)


def write_quarantine(
    quarantine_dir: Path, source: Path, records: list[QuarantinedRecord], *, target: Path | None = None
) -> Path | None:
    """Quarantine records (file, line, note id, reason; never content) as JSONL, written atomically to ``target``
    or a new time-stamped ``deid-*.jsonl`` in ``quarantine_dir``; None (nothing written) when there are none."""
    if not records:
        return None
    if target is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = quarantine_dir / f"deid-{stamp}.jsonl"
    lines = [json.dumps({"source": source.name, **r.to_json()}) for r in sorted(records, key=lambda r: r.line)]
    write_text_atomic(target, "\n".join(lines) + "\n")
    return target


def quarantine_beside(output: Path) -> Path:
    """Where file mode puts its quarantine records: ``deid.jsonl`` -> ``deid.quarantine.jsonl``."""
    return output.with_name(f"{output.stem}.quarantine.jsonl")


def held_lines(records: list[QuarantinedRecord], limit: int = 10) -> str:
    """``lines 1, 4, 9`` (the first ``limit`` quarantined lines, for a message; no content)."""
    numbers = sorted(r.line for r in records)
    more = f" and {len(numbers) - limit} more" if len(numbers) > limit else ""
    return f"line{'s' if len(numbers) > 1 else ''} {', '.join(str(n) for n in numbers[:limit])}{more}"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8) atomically (:func:`fednode.atomic.write_text_atomic`), making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text_atomic(path, text)


def write_jsonl_atomic(path: Path, records: Iterable[DeidentifiedRecord]) -> int:
    """Write ``records`` to ``path`` atomically (:func:`fednode.atomic.atomic_text`); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic.atomic_text(path) as handle:
        for record in records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def split_outcomes(
    outcomes: Iterable[Outcome], report: BatchReport
) -> tuple[list[DeidentifiedRecord], list[QuarantinedRecord]]:
    """Separate de-identified notes from quarantined ones, counting both into ``report``."""
    done: list[DeidentifiedRecord] = []
    held: list[QuarantinedRecord] = []
    for outcome in outcomes:
        report.add(outcome)
        if isinstance(outcome, QuarantinedRecord):
            held.append(outcome)
        else:
            done.append(outcome)
    return done, held


def deidentify_file(
    input_path: Path,
    output: Path,
    settings: DeidSettings,
    *,
    operator: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """``fednode deid run --output``: de-identify a notes JSONL file into ``output`` (written atomically), the notes
    that cannot be de-identified into ``<output stem>.quarantine.jsonl`` beside it (file mode touches no site home).
    Returns the report (counts and reasons only); ``ok`` is false when a note was quarantined. When no note could be
    de-identified nothing is written: ``quarantined_lines`` names the lines instead."""
    check_input(input_path)
    options = options_from_settings(settings, operator)
    started = time.perf_counter()
    report = BatchReport()
    outcomes = deidentify_lines(read_lines(input_path), options, workers=workers or settings.workers)
    done, held = split_outcomes(outcomes, report)
    qfile = None
    if done:
        write_jsonl_atomic(output, done)
        qfile = write_quarantine(output.parent, input_path, held, target=quarantine_beside(output))
    return {
        "ok": bool(done) and not held,
        "operator": options.operator,
        "deid": report.to_dict(),
        "output": str(output) if done else None,
        "quarantine_file": str(qfile) if qfile else None,
        "quarantined_lines": held_lines(held) if held else None,
        "seconds": round(time.perf_counter() - started, 3),
    }
