"""NOTE_NLP rows from a model: read the notes to tag, write the predicted mentions, in one transaction.

Predicted rows (OMOP CDM v5.4 ``note_nlp``), one per mention:

* ``note_id``: the NOTE row tagged; ``offset``: the start character offset in ``note.note_text`` (a string, as the
  gold rows); ``lexical_variant``: ``note_text[offset:offset + len(lexical_variant)]``, the mention itself;
* ``snippet``: the mention with up to 40 characters of context each side (at most 250 characters);
* ``section_concept_id``, ``note_nlp_concept_id`` and ``note_nlp_source_concept_id``: 0 (no section detection and
  no concept normalisation: the model finds disease mentions, it does not code them);
* ``nlp_system``: the model's name (study and weights digest), ``nlp_date`` / ``nlp_datetime``: when it ran;
* ``term_exists`` ``Y``; ``term_temporal`` NULL; ``term_modifiers`` ``label=<Label>``.

Writing replaces the rows of the same ``nlp_system`` for the notes written (a rerun does not duplicate them) and
never touches the gold rows (``nlp_system = 'gold'``), which the trainer reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, insert, select

from omop_etl.cdm import Note, NoteNlp
from omop_etl.notes import GOLD_SYSTEM

log = logging.getLogger("fednode.omop_etl.note_nlp")

SNIPPET_CONTEXT = 40
_MAX_TEXT = 250


@dataclass(frozen=True)
class PredictedSpan:
    """One mention on a note's text: ``[start, end)`` and its label."""

    start: int
    end: int
    label: str


def read_notes(engine: Engine, note_ids: Sequence[int] | None = None) -> list[tuple[int, str]]:
    """``(note_id, note_text)`` of the given notes (all when None), in note_id order; unknown ids are skipped."""
    stmt = select(Note.note_id, Note.note_text).order_by(Note.note_id)
    with engine.connect() as conn:
        if note_ids is None:
            return [(int(i), str(t)) for i, t in conn.execute(stmt)]
        out: list[tuple[int, str]] = []
        wanted = sorted(set(note_ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            out += [(int(i), str(t)) for i, t in conn.execute(stmt.where(Note.note_id.in_(chunk)))]
        return sorted(out)


def note_ids_by_source(engine: Engine, source_values: Sequence[str]) -> dict[str, int]:
    """``note_source_value`` -> ``note_id`` for the source ids found in NOTE."""
    out: dict[str, int] = {}
    wanted = sorted(set(source_values))
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            stmt = select(Note.note_source_value, Note.note_id).where(Note.note_source_value.in_(chunk))
            out.update((str(s), int(i)) for s, i in conn.execute(stmt))
    return out


def _snippet(text: str, start: int, end: int) -> str:
    left = max(0, start - SNIPPET_CONTEXT)
    right = min(len(text), end + SNIPPET_CONTEXT)
    return " ".join(text[left:right].split())[:_MAX_TEXT]


def write_predictions(
    engine: Engine,
    nlp_system: str,
    texts: Mapping[int, str],
    predictions: Mapping[int, Sequence[PredictedSpan]],
    *,
    now: datetime | None = None,
) -> int:
    """Replace ``nlp_system``'s rows of the predicted notes with the new mentions, in one transaction.

    ``texts`` holds each note's text (the offsets refer to it); a mention longer than 250 characters (the column's
    limit) is skipped. Returns the number of rows written.
    """
    if nlp_system == GOLD_SYSTEM or not nlp_system or len(nlp_system) > _MAX_TEXT:
        raise ValueError("nlp_system must be a non-gold name of at most 250 characters")
    when = now or datetime.now(UTC)
    rows: list[dict[str, object]] = []
    with engine.begin() as conn:
        next_id = (conn.execute(select(func.max(NoteNlp.note_nlp_id))).scalar() or 0) + 1
        note_ids = sorted(predictions)
        for start in range(0, len(note_ids), 500):
            chunk = note_ids[start : start + 500]
            conn.execute(delete(NoteNlp).where(NoteNlp.note_id.in_(chunk), NoteNlp.nlp_system == nlp_system))
        for note_id in note_ids:
            text = texts[note_id]
            for span in predictions[note_id]:
                if not 0 <= span.start < span.end <= len(text) or span.end - span.start > _MAX_TEXT:
                    continue
                rows.append(
                    {
                        "note_nlp_id": next_id,
                        "note_id": note_id,
                        "section_concept_id": 0,
                        "snippet": _snippet(text, span.start, span.end),
                        "offset": str(span.start),
                        "lexical_variant": text[span.start : span.end],
                        "note_nlp_concept_id": 0,
                        "note_nlp_source_concept_id": 0,
                        "nlp_system": nlp_system,
                        "nlp_date": when.date(),
                        "nlp_datetime": when.replace(tzinfo=None),
                        "term_exists": "Y",
                        "term_temporal": None,
                        "term_modifiers": f"label={span.label}",
                    }
                )
                next_id += 1
        for start in range(0, len(rows), 500):
            conn.execute(insert(NoteNlp), rows[start : start + 500])
    log.info("note_nlp.predicted notes=%d rows=%d", len(predictions), len(rows))
    return len(rows)
