"""NOTE and NOTE_NLP: the loader that ``fednode deid run`` calls, and the reader the NER trainer uses.

The contract (CONTRIBUTING.md, "Notes in the CDM"):

* ``NOTE`` holds **de-identified text only**: the caller de-identifies first and passes a
  :class:`DeidentifiedNote`. ``note_source_value`` is the source ``note_id`` and is the upsert key: loading the
  same note again updates that row (same ``note_id``) instead of adding one. ``person_id`` comes from
  ``person.person_source_value``; a note whose person is not in PERSON is quarantined (reason
  ``unknown_person``), not loaded.
* ``NOTE_NLP`` holds the gold spans of each note, one row per span: ``offset`` = start character offset in the
  de-identified text (as a string), ``lexical_variant`` = the span's text, ``term_modifiers`` =
  ``label=<Label>``, ``nlp_system`` = ``gold``, ``note_nlp_concept_id`` = 0. Loading a note replaces all of that
  note's gold rows. A span ends at ``offset + len(lexical_variant)`` (end exclusive).
* The whole call is one transaction: on any error nothing is written.

:func:`read_gold_notes` yields ``(note_id, text, spans)`` for every note, spans as ``(start, end, label)``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from omop_etl.cdm import Concept, Death, Note, NoteNlp, Person, create_cdm
from omop_etl.quarantine import QuarantineLog, write_quarantine

log = logging.getLogger("fednode.omop_etl.notes")

GOLD_SYSTEM = "gold"
"""``note_nlp.nlp_system`` of gold (human-annotated) spans."""
NOTE_TYPE_EHR = 32817
"""Type Concept ``EHR``: the note came from the site's EHR extract."""
ENCODING_UTF8 = 32678
"""``encoding_concept_id`` for UTF-8 text (0 when the site's vocabulary lacks it, as the bundled subset does)."""
_LANGUAGE_NAMES = {
    "en": "English language",
    "sv": "Swedish language",
    "no": "Norwegian language",
    "nb": "Norwegian language",
    "nn": "Norwegian language",
    "da": "Danish language",
    "fi": "Finnish language",
    "et": "Estonian language",
}
_KNOWN_LANGUAGE_CONCEPTS = {"en": 4180186}  # SNOMED 'English language', the id OHDSI's NOTE examples use

Span = tuple[int, int, str]
T = TypeVar("T")


@dataclass(frozen=True)
class DeidentifiedNote:
    """One clinical note after de-identification, ready for the CDM.

    ``note_id`` is the source system's note id (becomes ``note_source_value``, at most 50 characters);
    ``text`` is already de-identified; ``spans`` are gold entity spans on ``text`` as ``(start, end, label)``,
    end exclusive.
    """

    note_id: str
    person_source_value: str
    note_date: date
    title: str
    text: str
    lang: str = "en"
    spans: tuple[Span, ...] = ()


@dataclass
class NotesLoadReport:
    """What :func:`load_notes` did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    nlp_rows: int = 0
    dates_clamped: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def to_dict(self) -> dict[str, object]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "nlp_rows": self.nlp_rows,
            "dates_clamped": self.dates_clamped,
            "quarantined": dict(self.quarantined),
        }


def _problem(note: DeidentifiedNote) -> str | None:
    """Why ``note`` cannot be stored, or None."""
    if not note.note_id or len(note.note_id) > 50:
        return "note_id_invalid"
    if note.title and len(note.title) > 250:
        return "title_too_long"
    for start, end, label in note.spans:
        if not (0 <= start < end <= len(note.text)):
            return "span_out_of_range"
        if end - start > 250:
            return "span_too_long"
        if not label or len(label) > 1990:
            return "span_label_invalid"
    return None


def _birth_date(year: int, month: int | None, day: int | None) -> date:
    """The earliest date the PERSON row allows (a missing or impossible month or day counts from the year's start)."""
    try:
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return date(int(year), 1, 1)


def _present(conn: Connection, concept_id: int) -> int:
    """``concept_id`` when the site's vocabulary has it, else 0 (no dangling concept references)."""
    found = conn.execute(select(Concept.concept_id).where(Concept.concept_id == concept_id)).scalar()
    return concept_id if found is not None else 0


def _language_concepts(conn: Connection) -> dict[str, int]:
    names = set(_LANGUAGE_NAMES.values())
    rows = conn.execute(
        select(Concept.concept_name, Concept.concept_id).where(
            Concept.concept_name.in_(names), Concept.vocabulary_id == "SNOMED"
        )
    ).all()
    by_name: dict[str, int] = {str(name): int(cid) for name, cid in rows}
    out = {code: _present(conn, cid) for code, cid in _KNOWN_LANGUAGE_CONCEPTS.items()}
    for code, name in _LANGUAGE_NAMES.items():
        if name in by_name:
            out[code] = by_name[name]
    return out


def _chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """``items`` in slices small enough for any database's bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _gold_spans(conn: Connection, note_ids: list[int]) -> dict[int, list[Span]]:
    out: dict[int, list[Span]] = {}
    for chunk in _chunks(note_ids):
        rows = conn.execute(
            select(NoteNlp.note_id, NoteNlp.offset, NoteNlp.lexical_variant, NoteNlp.term_modifiers)
            .where(NoteNlp.note_id.in_(chunk), NoteNlp.nlp_system == GOLD_SYSTEM)
            .order_by(NoteNlp.note_nlp_id)
        ).all()
        for note_id, offset, lexical, modifiers in rows:
            out.setdefault(note_id, []).append(_span(offset, lexical, modifiers))
    return out


def _span(offset: str | None, lexical: str, modifiers: str | None) -> Span:
    start = int(offset or 0)
    label = ""
    for part in (modifiers or "").split(";"):
        key, _, value = part.partition("=")
        if key.strip() == "label":
            label = value.strip()
    return (start, start + len(lexical), label)


def load_notes(engine: Engine, notes: Iterable[DeidentifiedNote], *, source: str = "notes") -> NotesLoadReport:
    """Upsert de-identified ``notes`` into NOTE and replace their gold NOTE_NLP rows, in one transaction.

    ``source`` names the input (a file name, never content) in the quarantine records. De-identification moved each
    ``note_date`` by its patient's offset (up to a year either way); one that now falls before the person's birth,
    after the death or after today is dated on that bound (counted in ``dates_clamped``), so the CDM stays
    plausible (OHDSI DQD ``plausibleAfterBirth``, ``plausibleBeforeDeath``, ``plausibleValueHigh``).
    """
    create_cdm(engine)
    report = NotesLoadReport()
    quarantine = QuarantineLog()
    reasons: Counter[str] = Counter()
    today = datetime.now(UTC).date()
    with engine.begin() as conn:
        languages = _language_concepts(conn)
        encoding = _present(conn, ENCODING_UTF8)
        batch = list(notes)
        persons: dict[str, int] = {}
        lives: dict[str, tuple[date, date]] = {}
        for chunk in _chunks(sorted({n.person_source_value for n in batch})):
            stmt = select(
                Person.person_source_value,
                Person.person_id,
                Person.year_of_birth,
                Person.month_of_birth,
                Person.day_of_birth,
            ).where(Person.person_source_value.in_(chunk))
            for psv, pid, year, month, day in conn.execute(stmt):
                persons[str(psv)] = int(pid)
                lives[str(psv)] = (_birth_date(year, month, day), today)
            deaths = select(Person.person_source_value, Death.death_date).join(
                Death, Death.person_id == Person.person_id
            )
            for psv, died in conn.execute(deaths.where(Person.person_source_value.in_(chunk))):
                born, last = lives[str(psv)]
                lives[str(psv)] = (born, max(born, min(last, died)))
        existing: dict[str, Any] = {}
        for chunk in _chunks(sorted({n.note_id for n in batch})):
            existing.update(
                (row.note_source_value, row)
                for row in conn.execute(select(Note).where(Note.note_source_value.in_(chunk)))
            )
        gold = _gold_spans(conn, [row.note_id for row in existing.values()])
        next_note_id = (conn.execute(select(func.max(Note.note_id))).scalar() or 0) + 1
        next_nlp_id = (conn.execute(select(func.max(NoteNlp.note_nlp_id))).scalar() or 0) + 1
        seen: set[str] = set()
        for index, note in enumerate(batch, start=1):
            reason = _problem(note)
            if reason is None and note.note_id in seen:
                reason = "duplicate_note_id"
            if reason is None and note.person_source_value not in persons:
                reason = "unknown_person"
            if reason is not None:
                quarantine.add("note", source, index, note.note_id[:255], reason)
                reasons[reason] += 1
                continue
            seen.add(note.note_id)
            born, last = lives[note.person_source_value]
            note_date = min(max(note.note_date, born), last)  # the date shift may have moved it out of the life
            report.dates_clamped += note_date != note.note_date
            values = {
                "person_id": persons[note.person_source_value],
                "note_date": note_date,
                "note_type_concept_id": NOTE_TYPE_EHR,
                "note_class_concept_id": 0,
                "note_title": note.title or None,
                "note_text": note.text,
                "encoding_concept_id": encoding,
                "language_concept_id": languages.get(note.lang.lower(), 0),
                "note_source_value": note.note_id,
            }
            row = existing.get(note.note_id)
            if row is None:
                note_id = next_note_id
                next_note_id += 1
                conn.execute(insert(Note), {"note_id": note_id, **values})
                report.inserted += 1
            else:
                note_id = row.note_id
                same_row = all(getattr(row, key) == value for key, value in values.items())
                if same_row and gold.get(note_id, []) == list(note.spans):
                    report.unchanged += 1
                    continue
                conn.execute(update(Note).where(Note.note_id == note_id).values(**values))
                report.updated += 1
            conn.execute(delete(NoteNlp).where(NoteNlp.note_id == note_id, NoteNlp.nlp_system == GOLD_SYSTEM))
            nlp_rows = []
            for start, end, label in note.spans:
                nlp_rows.append(
                    {
                        "note_nlp_id": next_nlp_id,
                        "note_id": note_id,
                        "offset": str(start),
                        "lexical_variant": note.text[start:end],
                        "note_nlp_concept_id": 0,
                        "nlp_system": GOLD_SYSTEM,
                        "nlp_date": today,
                        "term_modifiers": f"label={label}",
                    }
                )
                next_nlp_id += 1
            if nlp_rows:
                conn.execute(insert(NoteNlp), nlp_rows)
            report.nlp_rows += len(nlp_rows)
        write_quarantine(conn, "notes", quarantine)
    report.quarantined = dict(sorted(reasons.items()))
    log.info(
        "notes.loaded inserted=%d updated=%d unchanged=%d quarantined=%d dates_clamped=%d",
        report.inserted,
        report.updated,
        report.unchanged,
        len(quarantine),
        report.dates_clamped,
    )
    return report


def read_gold_notes(engine: Engine) -> Iterator[tuple[int, str, tuple[Span, ...]]]:
    """Every note as ``(note_id, de-identified text, gold spans)``, in ``note_id`` order.

    Spans are ``(start, end, label)`` on the text, end exclusive, in offset order; a note with no gold
    span yields an empty tuple.
    """
    with engine.connect() as conn:
        spans: dict[int, list[Span]] = {}
        for note_id, offset, lexical, modifiers in conn.execute(
            select(NoteNlp.note_id, NoteNlp.offset, NoteNlp.lexical_variant, NoteNlp.term_modifiers).where(
                NoteNlp.nlp_system == GOLD_SYSTEM
            )
        ):
            spans.setdefault(note_id, []).append(_span(offset, lexical, modifiers))
        for note_id, text in conn.execute(select(Note.note_id, Note.note_text).order_by(Note.note_id)):
            yield note_id, text, tuple(sorted(spans.get(note_id, ())))
