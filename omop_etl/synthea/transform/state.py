"""What the transform steps share: the sources, the CDM rows built so far, the ids of persons, visits and the
health system for later steps to refer to, and the bookkeeping every step does (quarantine, unmapped counts).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from omop_etl.csvio import Table
from omop_etl.quarantine import QuarantineLog
from omop_etl.synthea.ids import IdAllocator
from omop_etl.synthea.parse import MIN_DATE
from omop_etl.synthea.rowset import RowSet
from omop_etl.vocab import UNMAPPED, ConceptMapper, Mapping


@dataclass
class Transformed:
    """Everything the ETL produced, before it is written."""

    tables: dict[str, RowSet]
    quarantine: QuarantineLog
    unmapped: dict[str, Counter[str]] = field(default_factory=dict)
    unmapped_records: Counter[str] = field(default_factory=Counter)


@dataclass
class Visit:
    """A loaded encounter, as the events that happened during it refer to it."""

    visit_id: int
    detail_id: int
    person_id: int
    provider_id: int | None
    start: date
    end: date
    fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = {
            "visit_occurrence_id": self.visit_id,
            "visit_detail_id": self.detail_id,
            "provider_id": self.provider_id,
        }


class TransformState:
    """The inputs, the outputs so far, and the source-id -> CDM-id lookups the steps build for each other."""

    def __init__(self, sources: dict[str, Table], mapper: ConceptMapper, ids: IdAllocator, today: date) -> None:
        self.src = sources
        self.mapper = mapper
        self.ids = ids
        self.today = today
        self.quarantine = QuarantineLog()
        self.out: dict[str, RowSet] = {}
        self.unmapped: dict[str, Counter[str]] = defaultdict(Counter)
        self.unmapped_records: Counter[str] = Counter()
        self.location_ids: dict[str, int] = {}
        self.persons: dict[str, int] = {}
        self.birth: dict[int, date] = {}
        self.death: dict[int, date] = {}
        self.care_sites: dict[str, int] = {}
        self.providers: dict[str, int] = {}
        self.visits: dict[str, Visit] = {}

    def rowset(self, name: str) -> RowSet:
        """The rows built so far for CDM table ``name`` (created empty on first use)."""
        found = self.out.get(name)
        if found is None:
            found = self.out[name] = RowSet(name)
        return found

    def reject(self, table: str, stem: str, line: int, key: str | None, reason: str) -> None:
        """Quarantine one source row (file ``<stem>.csv``) with its reason."""
        self.quarantine.add(table, f"{stem}.csv", line, key, reason)

    def map_code(self, table: str, vocab: str, code: str) -> Mapping:
        """``vocab:code``'s concepts; an unmapped code is counted against ``table``."""
        mapping = self.mapper.map(vocab, code) if code else UNMAPPED
        if mapping.concept_id == 0:
            self.unmapped[table][f"{vocab}:{code}"] += 1
            self.unmapped_records[table] += 1
        return mapping

    def assign_ids(self, rs: RowSet, pk: str) -> None:
        """Fill ``rs``'s primary key ``pk`` with the stable id of each row's source key."""
        rs.set_column(pk, self.ids.ids(rs.name, rs.keys))

    def implausible(self, person_id: int, day: date) -> str | None:
        """The quarantine reason when ``day`` cannot be a date of ``person_id``'s record, else None."""
        if day < MIN_DATE or day > self.today + timedelta(days=1):
            return "implausible_date"
        if day < self.birth[person_id]:
            return "date_before_birth"
        return None


def conflicting_ids(rows: list[tuple[int, list[str]]], column: int) -> set[str]:
    """Ids that occur on rows that differ (exact repeats are harmless and loaded once)."""
    first: dict[str, list[str]] = {}
    conflicts: set[str] = set()
    for _line, row in rows:
        key = row[column]
        seen = first.get(key)
        if seen is None:
            first[key] = row
        elif seen != row:
            conflicts.add(key)
    return conflicts
