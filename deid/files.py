"""File mode: notes JSONL in, de-identified notes JSONL out (written atomically), quarantine records beside it.

The site secret (``settings.deid.secret``) keys surrogates and HMAC pseudonyms. Without one, surrogates use a
random per-run key (consistent within the run only) and HMAC pseudonyms are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from deid.batch import (
    BatchOptions,
    BatchReport,
    DeidentifiedRecord,
    Outcome,
    QuarantinedRecord,
    deidentify_lines,
    read_lines,
)
from deid.operators import OPERATORS, Operator
from fednode.errors import ConfigError, NoteInputError
from fednode.settings import DeidSettings

log = logging.getLogger("fednode.deid.files")


def options_from_settings(settings: DeidSettings, operator: str | None = None) -> BatchOptions:
    """Batch options from the deid settings section (the key is derived from the site secret)."""
    chosen = operator or settings.operator
    if chosen not in OPERATORS:
        raise ConfigError(f"deid operator {chosen!r} is not one of {', '.join(OPERATORS)}")
    op: Operator = chosen  # checked just above: a literal of the tuple
    if settings.secret is not None:
        key = hashlib.sha256(b"fednode-deid-v1\x00" + settings.secret.get_secret_value().encode("utf-8")).digest()
    elif op == "hmac":
        raise ConfigError("deid operator 'hmac' needs a site secret (FEDNODE_DEID__SECRET or /run/secrets)")
    else:
        key = os.urandom(32)
        log.warning("deid.ephemeral_key surrogates are consistent within this run only; set a site secret")
    return BatchOptions(op, key, settings.default_language, settings.max_note_bytes)


def check_input(path: Path) -> None:
    """Raise :class:`NoteInputError` when the notes file cannot be read at all."""
    if not path.is_file():
        raise NoteInputError("notes file not found", file=str(path))


def write_quarantine(quarantine_dir: Path, source: Path, records: list[QuarantinedRecord]) -> Path | None:
    """Quarantine records (file, line, note id, reason; never content) as JSONL; None when there are none."""
    if not records:
        return None
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = quarantine_dir / f"deid-{stamp}.jsonl"
    lines = [json.dumps({"source": source.name, **r.to_json()}) for r in records]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def write_jsonl_atomic(path: Path, records: Iterable[DeidentifiedRecord]) -> int:
    """Write ``records`` to ``path`` through a temporary file and an atomic rename; returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
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
    quarantine_dir: Path,
    *,
    operator: str | None = None,
    workers: int | None = None,
) -> dict[str, object]:
    """``fednode deid run --output``: de-identify a notes JSONL file into ``output`` (written atomically), the notes
    that cannot be de-identified into ``quarantine_dir``. Returns the report (counts and reasons only)."""
    check_input(input_path)
    options = options_from_settings(settings, operator)
    started = time.perf_counter()
    report = BatchReport()
    outcomes = deidentify_lines(read_lines(input_path), options, workers=workers or settings.workers)
    done, held = split_outcomes(outcomes, report)
    write_jsonl_atomic(output, done)
    qfile = write_quarantine(quarantine_dir, input_path, held)
    return {
        "ok": True,
        "operator": options.operator,
        "deid": report.to_dict(),
        "output": str(output),
        "quarantine_file": str(qfile) if qfile else None,
        "seconds": round(time.perf_counter() - started, 3),
    }
