"""Athena vocabulary load and concept mapping (source code -> source concept -> ``Maps to`` standard concept).

Athena ships tab-separated files with ``YYYYMMDD`` dates and literal quotes; the bundled subset is
comma-separated with ``YYYY-MM-DD`` dates. The delimiter is detected from the header; anything else is an
:class:`~fednode.errors.EtlInputError` naming the file. Loading replaces the vocabulary tables' content in the
caller's transaction, so a site points ``--vocab`` at a new Athena download and reloads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, select
from sqlalchemy.orm import aliased

from fednode.errors import EtlInputError
from omop_etl.cdm import Concept, ConceptRelationship, table
from omop_etl.csvio import stream_table

log = logging.getLogger("fednode.omop_etl.vocab")

REQUIRED_FILES = ("CONCEPT", "CONCEPT_RELATIONSHIP", "VOCABULARY", "DOMAIN", "CONCEPT_CLASS", "RELATIONSHIP")
OPTIONAL_FILES = ("CONCEPT_ANCESTOR", "CONCEPT_SYNONYM", "DRUG_STRENGTH")

# The fixed concepts that ETL-Synthea hard-codes. A full Athena download has them all; the bundled subset lacks
# them, so they are added when (and only when) the loaded vocabulary does not have them.
# (concept_id, name, domain, vocabulary, class, standard, code)
CORE_CONCEPTS: tuple[tuple[int, str, str, str, str, str | None, str], ...] = (
    (0, "No matching concept", "Metadata", "None", "Undefined", None, "No matching concept"),
    (8507, "MALE", "Gender", "Gender", "Gender", "S", "M"),
    (8532, "FEMALE", "Gender", "Gender", "Gender", "S", "F"),
    (8527, "White", "Race", "Race", "Race", "S", "5"),
    (8516, "Black or African American", "Race", "Race", "Race", "S", "3"),
    (8515, "Asian", "Race", "Race", "Race", "S", "2"),
    (8657, "American Indian or Alaska Native", "Race", "Race", "Race", "S", "1"),
    (8557, "Native Hawaiian or Other Pacific Islander", "Race", "Race", "Race", "S", "4"),
    (32817, "EHR", "Type Concept", "Type Concept", "Type Concept", "S", "OMOP4976890"),
    (756265, "OMOP CDM Version 5.4.0", "Metadata", "CDM", "CDM", "S", "CDM v5.4.0"),
)


@dataclass
class VocabReport:
    """Rows loaded per vocabulary table, and which core concepts had to be added."""

    rows: dict[str, int] = field(default_factory=dict)
    core_concepts_added: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": dict(self.rows), "core_concepts_added": list(self.core_concepts_added)}


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (f"{name}.csv", f"{name}.tsv", f"{name}.txt", f"{name.lower()}.csv", name):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def _date(value: str) -> date:
    value = value.strip()
    if len(value) == 8 and value.isdigit():
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    return date.fromisoformat(value[:10])


def _converter(column_type: Any) -> Callable[[str], Any]:
    python_type = column_type.python_type
    if python_type is int:
        return lambda v: int(v) if v.strip() else None
    if python_type is float:
        return lambda v: float(v) if v.strip() else None
    if python_type is date:
        return lambda v: _date(v) if v.strip() else None
    return lambda v: v if v != "" else None


def _load_file(conn: Connection, path: Path, target: Table, batch_size: int) -> int:
    columns = [c.name for c in target.columns]
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline()
    quoted = "\t" not in first  # Athena's tab files carry literal quotes in names
    header, rows = stream_table(path, columns, upper_header=False, quoted=quoted)  # Athena files are large
    lower = [h.lower() for h in header]
    positions = [lower.index(c) for c in columns]
    converters = [_converter(c.type) for c in target.columns]
    required = [not c.nullable for c in target.columns]
    conn.execute(delete(target))
    batch: list[dict[str, Any]] = []
    count = 0
    for line, row in rows:
        record: dict[str, Any] = {}
        for name, pos, convert, needed in zip(columns, positions, converters, required, strict=True):
            try:
                value = convert(row[pos])
            except ValueError:
                raise EtlInputError("value has the wrong type", file=path.name, line=line, field=name) from None
            if value is None and needed:
                # Athena leaves standard_concept/invalid_reason empty; required fields must be present
                raise EtlInputError("required value is empty", file=path.name, line=line, field=name)
            record[name] = value
        batch.append(record)
        if len(batch) >= batch_size:
            conn.execute(insert(target), batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(insert(target), batch)
        count += len(batch)
    return count


def check_vocabulary_folder(folder: Path) -> None:
    """Raise :class:`EtlInputError` unless ``folder`` is a folder holding every required vocabulary file (checked
    before any database is touched)."""
    if not folder.is_dir():
        raise EtlInputError("vocabulary folder does not exist", file=str(folder))
    for name in REQUIRED_FILES:
        if _find(folder, name) is None:
            raise EtlInputError(f"vocabulary file {name} is missing", file=str(folder / f"{name}.csv"))


def load_vocabulary(conn: Connection, folder: Path, *, batch_size: int = 5000) -> VocabReport:
    """Replace the vocabulary tables with the files in ``folder`` (in the caller's transaction)."""
    report = VocabReport()
    check_vocabulary_folder(folder)
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        path = _find(folder, name)
        if path is None:
            continue
        report.rows[name.lower()] = _load_file(conn, path, table(name.lower()), batch_size)
        log.info("vocab.table_loaded table=%s rows=%d", name.lower(), report.rows[name.lower()])
    report.core_concepts_added = ensure_core_concepts(conn)
    return report


def ensure_core_concepts(conn: Connection) -> list[int]:
    """Add the fixed concepts the ETL uses where the vocabulary lacks them; returns the ids added."""
    ids = [c[0] for c in CORE_CONCEPTS]
    have = set(conn.execute(select(Concept.concept_id).where(Concept.concept_id.in_(ids))).scalars())
    missing = [c for c in CORE_CONCEPTS if c[0] not in have]
    if missing:
        conn.execute(
            insert(Concept),
            [
                {
                    "concept_id": cid,
                    "concept_name": name,
                    "domain_id": domain,
                    "vocabulary_id": vocab,
                    "concept_class_id": klass,
                    "standard_concept": std,
                    "concept_code": code,
                    "valid_start_date": date(1970, 1, 1),
                    "valid_end_date": date(2099, 12, 31),
                    "invalid_reason": None,
                }
                for cid, name, domain, vocab, klass, std, code in missing
            ],
        )
    return [c[0] for c in missing]


@dataclass(frozen=True)
class Mapping:
    """A source code's concepts: the source concept, its standard target, and the target's domain."""

    source_concept_id: int
    concept_id: int
    domain_id: str | None


UNMAPPED = Mapping(0, 0, None)


class ConceptMapper:
    """Looks up ``(vocabulary_id, concept_code)`` once per distinct code and caches it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cache: dict[tuple[str, str], Mapping] = {}
        self._target = aliased(Concept)

    def prefetch(self, vocabulary_id: str, codes: set[str]) -> None:
        """Look up many codes in a few queries (the ETL calls this once per source file)."""
        wanted = sorted(c for c in codes if c and (vocabulary_id, c) not in self._cache)
        target = self._target
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._conn.execute(
                self._query()
                .add_columns(Concept.concept_code)
                .where(Concept.vocabulary_id == vocabulary_id, Concept.concept_code.in_(chunk))
                .order_by(Concept.concept_code, target.concept_id)
            ).all()
            grouped: dict[str, list[Any]] = {}
            for row in rows:
                grouped.setdefault(row[-1], []).append(row[:-1])
            for code in chunk:
                self._cache[(vocabulary_id, code)] = _resolve(grouped.get(code, []))

    def map(self, vocabulary_id: str, code: str) -> Mapping:
        key = (vocabulary_id, code)
        found = self._cache.get(key)
        if found is None:
            found = self._lookup(vocabulary_id, code)
            self._cache[key] = found
        return found

    def _query(self) -> Any:
        target = self._target
        return (
            select(Concept.concept_id, Concept.standard_concept, Concept.domain_id, target.concept_id, target.domain_id)
            .select_from(Concept)
            .outerjoin(
                ConceptRelationship,
                and_(
                    ConceptRelationship.concept_id_1 == Concept.concept_id,
                    ConceptRelationship.relationship_id == "Maps to",
                    ConceptRelationship.invalid_reason.is_(None),
                ),
            )
            .outerjoin(
                target,
                and_(
                    target.concept_id == ConceptRelationship.concept_id_2,
                    target.standard_concept == "S",
                    target.invalid_reason.is_(None),
                ),
            )
        )

    def _lookup(self, vocabulary_id: str, code: str) -> Mapping:
        rows = self._conn.execute(
            self._query()
            .where(Concept.vocabulary_id == vocabulary_id, Concept.concept_code == code)
            .order_by(self._target.concept_id)
        ).all()
        return _resolve(rows)


def _resolve(rows: Any) -> Mapping:
    """The mapping from the (source concept, Maps to target) rows of one code."""
    if not rows:
        return UNMAPPED
    source_id = int(rows[0][0])
    for _sid, _std, _domain, target_id, target_domain in rows:
        if target_id is not None:
            return Mapping(source_id, int(target_id), target_domain)
    sid, std, domain, _t, _d = rows[0]
    if std == "S":  # a standard concept with no Maps to row maps to itself
        return Mapping(int(sid), int(sid), domain)
    return Mapping(source_id, 0, None)
