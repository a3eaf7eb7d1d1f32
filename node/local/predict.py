"""``fednode ner predict``: the consortium's model tags the site's de-identified notes into NOTE_NLP, offline.

Order of work (nothing is written unless every step passes):

1. the inputs: the model folder exists, the notes file parses (``note_id`` + ``text`` per JSONL line; a bad line
   is bad input naming ``file:line``, exit 4), the CDM holds NOTE;
2. the model: the coordinator's signature over weights and provenance and the folder's manifest
   (:func:`node.coordinator.model_folder.verify_model_folder`) against the pinned coordinator key; a model that
   fails is refused (SignatureError, exit 5);
3. the notes: each input line names a NOTE row (``note_id`` as the CDM's id, or the source id that
   ``note_source_value`` holds); its ``text``, where given, must be that row's de-identified text (the offsets
   refer to it); without ``--input`` every NOTE row is tagged;
4. prediction (a progress bar on a terminal), then every row is written in one transaction
   (:func:`omop_etl.note_nlp.write_predictions`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fednode.errors import BadInputError, ConfigError, FednodeError, NoteInputError, NotFoundError, SignatureError
from fednode.inputs import read_input_bytes, read_input_text

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("fednode.node.local.predict")


@dataclass(frozen=True)
class NoteRef:
    """One input line: which note (CDM id or source id), its text if given, and where it was read."""

    key: int | str
    text: str | None
    line: int


def read_note_refs(path: Path) -> list[NoteRef]:
    """Parse ``--input``: one JSON object per line with ``note_id`` (int or string) and optionally ``text``."""
    where = f"--input {path}"
    raw = read_input_text(path, where=where, not_text="not a UTF-8 text file (expected notes JSONL)")
    refs: list[NoteRef] = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise NoteInputError("not a JSON object", file=str(path), line=lineno) from None
        if not isinstance(obj, dict):
            raise NoteInputError("not a JSON object", file=str(path), line=lineno)
        key = obj.get("note_id")
        if isinstance(key, bool) or not isinstance(key, int | str) or key == "":
            raise NoteInputError("needs an integer or string note_id", file=str(path), line=lineno, field="note_id")
        text = obj.get("text")
        if text is not None and not isinstance(text, str):
            raise NoteInputError("must be a string", file=str(path), line=lineno, field="text")
        refs.append(NoteRef(key, text, lineno))
    if not refs:
        raise NoteInputError("no notes in the file", file=str(path))
    return refs


def trusted_key(key_file: Path | None, site_local_dir: Path) -> str:
    """The coordinator public key to trust: ``--coordinator-key FILE``, else the one provisioning pinned."""
    from node.kit.layout import COORDINATOR_PUBLIC_KEY
    from policies.keys import load_public_key

    if key_file is not None:
        where = f"--coordinator-key {key_file}"
        data = read_input_bytes(key_file, where=where)
    else:
        where = str(site_local_dir / COORDINATOR_PUBLIC_KEY)
        try:
            data = (site_local_dir / COORDINATOR_PUBLIC_KEY).read_bytes()
        except OSError:
            raise NotFoundError(
                f"{where}: no pinned coordinator key at this site; pass --coordinator-key FILE (the coordinator's "
                "public key, obtained out of band)"
            ) from None
    try:
        load_public_key(data)
    except FednodeError:
        raise BadInputError("not an Ed25519 public key in PEM form", file=where) from None
    return data.decode("ascii")


def check_model_dir(model: Path) -> None:
    """``--model`` is a folder holding a model manifest (exit 4 otherwise); its contents are checked by signature."""
    from node.coordinator.model_folder import MANIFEST_FILE

    if not model.is_dir():
        raise NotFoundError(f"--model {model}: no such model folder (`fednode study download` writes one)")
    if not (model / MANIFEST_FILE).is_file():
        raise NotFoundError(
            f"--model {model}: not a model folder written by `fednode study download` (no {MANIFEST_FILE})"
        )
    try:
        manifest = json.loads((model / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or "schema" not in manifest:
        raise BadInputError(f"--model {model}: {MANIFEST_FILE} is not a model manifest")


def check_db(url: str, option: str) -> None:
    """The CDM URL parses and, for a database server, answers (checked before the model folder)."""
    from omop_etl.db import check_reachable, make_engine, parse_db_url, sqlite_file

    parse_db_url(url, option=option)
    if sqlite_file(url) is None:
        engine = make_engine(url)
        try:
            check_reachable(engine, option=option)
        finally:
            engine.dispose()


def open_cdm(url: str, option: str) -> Engine:
    """An engine on a CDM that has NOTE and NOTE_NLP (NotFoundError, exit 4, otherwise; nothing is created)."""
    from omop_etl.db import cdm_tables, make_engine, masked_url

    check_db(url, option)
    tables = cdm_tables(url)
    if tables is None or not {"note", "note_nlp"} <= tables:
        raise NotFoundError(
            f"{option} {masked_url(url)}: no OMOP CDM with NOTE and NOTE_NLP there; load notes first "
            "(`fednode deid run --input notes.jsonl`)"
        )
    return make_engine(url)


def resolve_notes(engine: Engine, refs: list[NoteRef] | None, input_path: Path | None) -> dict[int, str]:
    """note_id -> text of the notes to tag: those the input names (checked against NOTE), or every NOTE row."""
    from omop_etl.note_nlp import note_ids_by_source, read_notes

    if refs is None:
        return dict(read_notes(engine))
    by_source = note_ids_by_source(engine, [r.key for r in refs if isinstance(r.key, str)])
    ids = {r.line: (r.key if isinstance(r.key, int) else by_source.get(r.key)) for r in refs}
    texts = dict(read_notes(engine, [i for i in ids.values() if i is not None]))
    out: dict[int, str] = {}
    for ref in refs:
        note_id = ids[ref.line]
        if note_id is None or note_id not in texts:
            raise NoteInputError(
                "no such note in the CDM's NOTE table (load it with `fednode deid run` first)",
                file=str(input_path),
                line=ref.line,
                field="note_id",
            )
        if ref.text is not None and ref.text != texts[note_id]:
            raise NoteInputError(
                "differs from the note's de-identified text in NOTE (the offsets would not match)",
                file=str(input_path),
                line=ref.line,
                field="text",
            )
        out[note_id] = texts[note_id]
    return out


def run_predict(
    *,
    model_dir: Path,
    input_path: Path | None,
    db_url: str,
    db_option: str,
    key_pem: str,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Check the inputs and the CDM, verify the model, tag the notes, write NOTE_NLP in one transaction; return the
    summary (counts, never text)."""
    refs = read_note_refs(input_path) if input_path is not None else None
    check_db(db_url, db_option)
    check_model_dir(model_dir)
    engine = open_cdm(db_url, db_option)
    try:
        from node.coordinator.model_folder import verify_model_folder

        try:
            verified = verify_model_folder(model_dir, [key_pem])
        except SignatureError as exc:
            raise SignatureError(f"--model {model_dir}: {exc.message}; refusing to use it") from exc
        texts = resolve_notes(engine, refs, input_path)
        if not texts:
            raise NotFoundError(f"{db_option}: the CDM's NOTE table holds no notes to tag")
        from node.ml.ner.predict import load_model_folder, predict_mentions
        from omop_etl.note_nlp import PredictedSpan, write_predictions

        try:
            model = load_model_folder(model_dir, device=device)
        except ConfigError as exc:
            raise ConfigError(f"--model {exc.message}") from exc
        mentions = predict_mentions(model, sorted(texts.items()), progress=progress)
        spans = {i: [PredictedSpan(m.start, m.end, m.label) for m in ms] for i, ms in mentions.items()}
        rows = write_predictions(engine, verified.nlp_system, texts, spans)
    finally:
        engine.dispose()
    log.info("ner.predicted notes=%d rows=%d", len(texts), rows)
    return {
        "ok": True,
        "model": str(model_dir),
        "study": verified.verified.provenance.study,
        "job_id": verified.verified.provenance.job_id,
        "signed_by": verified.verified.key_id,
        "nlp_system": verified.nlp_system,
        "notes": len(texts),
        "notes_with_mentions": sum(1 for ms in mentions.values() if ms),
        "rows": rows,
    }
