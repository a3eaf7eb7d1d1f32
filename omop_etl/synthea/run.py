"""The ETL run: parse everything first (a malformed file stops here, before the database is touched), then
create the schema and load vocabulary and CDM tables in ONE transaction (on SQLite too), and report.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from omop_etl.cdm import Vocabulary, create_cdm
from omop_etl.cdm import table as cdm_table
from omop_etl.quarantine import EXTENSION_METADATA, QuarantineLog, write_quarantine
from omop_etl.synthea.eras import condition_eras, drug_eras
from omop_etl.synthea.ids import IdAllocator
from omop_etl.synthea.rowset import RowSet
from omop_etl.synthea.sources import read_sources
from omop_etl.synthea.transform import SyntheaTransformer
from omop_etl.synthea.writer import TableChanges, sync_table
from omop_etl.vocab import ConceptMapper, VocabReport, ensure_core_concepts, load_vocabulary

log = logging.getLogger("fednode.omop_etl.run")

LOAD_ORDER = (
    "location",
    "care_site",
    "provider",
    "person",
    "death",
    "observation_period",
    "visit_occurrence",
    "visit_detail",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "measurement",
    "observation",
    "device_exposure",
    "condition_era",
    "drug_era",
    "cdm_source",
)
CDM_VERSION_CONCEPT = 756265  # "OMOP CDM Version 5.4.0", as ETL-Synthea records it

Progress = Callable[[str], None]


@dataclass
class EtlReport:
    """Everything a run did: counts and reasons only, never clinical content."""

    source: str
    db: str
    started_at: str
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    unmapped: dict[str, dict[str, Any]] = field(default_factory=dict)
    truncated: dict[str, dict[str, int]] = field(default_factory=dict)
    vocabulary: dict[str, Any] | None = None
    source_rows: int = 0

    @property
    def quarantined_total(self) -> int:
        return sum(sum(v.values()) for v in self.quarantined.values())

    @property
    def changed_total(self) -> int:
        return sum(c["inserted"] + c["updated"] + c["deleted"] for c in self.changes.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "source": self.source,
            "db": self.db,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "source_rows": self.source_rows,
            "rows": self.rows,
            "changes": self.changes,
            "changed_total": self.changed_total,
            "quarantined": self.quarantined,
            "quarantined_total": self.quarantined_total,
            "unmapped": self.unmapped,
            "truncated": self.truncated,
            "vocabulary": self.vocabulary,
        }


def _observation_periods(t: SyntheaTransformer) -> RowSet:
    """One period per person from the first to the last date of any record (ETL-Synthea uses encounters)."""
    spans: dict[int, tuple[date, date]] = {}

    def widen(person_id: int, first: date | None, last: date | None) -> None:
        if first is None:
            return
        last = last or first
        old = spans.get(person_id)
        spans[person_id] = (first, last) if old is None else (min(old[0], first), max(old[1], last))

    date_columns = {
        "visit_occurrence": ("visit_start_date", "visit_end_date"),
        "condition_occurrence": ("condition_start_date", "condition_end_date"),
        "drug_exposure": ("drug_exposure_start_date", "drug_exposure_end_date"),
        "procedure_occurrence": ("procedure_date", "procedure_end_date"),
        "measurement": ("measurement_date", "measurement_date"),
        "observation": ("observation_date", "observation_date"),
        "device_exposure": ("device_exposure_start_date", "device_exposure_end_date"),
    }
    for name, (start_col, end_col) in date_columns.items():
        rs = t.out.get(name)
        if rs is None:
            continue
        ip, i_s, i_e = rs.pos("person_id"), rs.pos(start_col), rs.pos(end_col)
        for row in rs.rows:
            widen(row[ip], row[i_s], row[i_e])
    out = RowSet("observation_period")
    source_of = {pid: psv for psv, pid in t.persons.items()}
    for person_id, (first, last) in sorted(spans.items()):
        died = t.death.get(person_id)
        if died is not None and last > died:
            last = max(died, first)
        out.add(
            source_of[person_id],
            {
                "person_id": person_id,
                "observation_period_start_date": first,
                "observation_period_end_date": last,
                "period_type_concept_id": 32817,
            },
        )
    out.set_column("observation_period_id", t.ids.ids("observation_period", out.keys))
    return out


def _cdm_source(conn: Connection, source: Path, name: str) -> RowSet:
    version = conn.execute(select(Vocabulary.vocabulary_version).where(Vocabulary.vocabulary_id == "None")).scalar()
    mtimes = [p.stat().st_mtime for p in source.glob("*.csv")]
    released = datetime.fromtimestamp(max(mtimes), UTC).date() if mtimes else datetime.now(UTC).date()
    out = RowSet("cdm_source")
    out.add(
        name,
        {
            "cdm_source_name": name,
            "cdm_source_abbreviation": name[:25],
            "cdm_holder": name,
            "source_description": "Synthea v3 CSV extract loaded by fednode omop_etl",
            "source_documentation_reference": "https://synthetichealth.github.io/synthea/",
            "cdm_etl_reference": "fednode omop_etl (OHDSI ETL-Synthea conventions)",
            "source_release_date": released,
            "cdm_release_date": datetime.now(UTC).date(),
            "cdm_version": "5.4",
            "cdm_version_concept_id": CDM_VERSION_CONCEPT,
            "vocabulary_version": version or "unknown",
        },
    )
    return out


def run_etl(
    engine: Engine,
    source: Path,
    *,
    vocab_dir: Path | None = None,
    source_name: str = "fednode-site",
    batch_size: int = 5000,
    quarantine_dir: Path | None = None,
    progress: Progress | None = None,
) -> EtlReport:
    """Load the Synthea extract in ``source`` into the CDM at ``engine`` (see the module docstring)."""
    started = time.perf_counter()
    step = progress or (lambda _msg: None)
    report = EtlReport(source=source.name, db=engine.url.render_as_string(hide_password=True), started_at="")
    report.started_at = datetime.now(UTC).isoformat(timespec="seconds")
    step("reading source files")
    sources = read_sources(source)  # raises EtlInputError before anything is written
    report.source_rows = sum(len(t.rows) for t in sources.values())
    vocab_report: VocabReport | None = None
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction; an explicit BEGIN makes the schema part of this one, so a
            # failed first load leaves no empty CDM behind (IMMEDIATE: take the write lock now, not half-way)
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        create_cdm(conn)
        EXTENSION_METADATA.create_all(conn, checkfirst=True)
        if vocab_dir is not None:
            step("loading vocabulary")
            vocab_report = load_vocabulary(conn, vocab_dir, batch_size=batch_size)
        else:
            ensure_core_concepts(conn)
        step("transforming")
        ids = IdAllocator(conn)
        transformer = SyntheaTransformer(sources, ConceptMapper(conn), ids, datetime.now(UTC).date())
        result = transformer.run()
        result.tables["observation_period"] = _observation_periods(transformer)
        eras_c, eras_d = RowSet("condition_era"), RowSet("drug_era")
        condition_eras(result.tables.get("condition_occurrence") or RowSet("condition_occurrence"), eras_c)
        drug_eras(conn, result.tables.get("drug_exposure") or RowSet("drug_exposure"), eras_d)
        eras_c.set_column("condition_era_id", ids.ids("condition_era", eras_c.keys))
        eras_d.set_column("drug_era_id", ids.ids("drug_era", eras_d.keys))
        result.tables["condition_era"], result.tables["drug_era"] = eras_c, eras_d
        ids.flush()
        changes: dict[str, TableChanges] = {}
        for name in LOAD_ORDER[:-1]:
            rs = result.tables.get(name) or RowSet(name)
            step(f"writing {name}")
            changes[name] = sync_table(conn, name, rs.columns, rs.rows, batch=batch_size)
            if rs.truncated:
                report.truncated[name] = dict(rs.truncated)
        source_row = _cdm_source(conn, source, source_name)
        if sum(c.changed for c in changes.values()) == 0:
            existing = conn.execute(select(func.count()).select_from(cdm_table("cdm_source"))).scalar()
            if existing:  # nothing changed: keep the recorded cdm_release_date
                source_row.rows = []
        changes["cdm_source"] = (
            sync_table(conn, "cdm_source", source_row.columns, source_row.rows, batch=batch_size)
            if source_row.rows
            else TableChanges(unchanged=1)
        )
        write_quarantine(conn, "etl", result.quarantine)
        for name in LOAD_ORDER:
            report.rows[name] = int(conn.execute(select(func.count()).select_from(cdm_table(name))).scalar() or 0)
    report.changes = {
        n: {"inserted": c.inserted, "updated": c.updated, "deleted": c.deleted, "unchanged": c.unchanged}
        for n, c in changes.items()
    }
    report.quarantined = result.quarantine.counts()
    report.unmapped = {
        name: {
            "records": result.unmapped_records[name],
            "codes": dict(counter.most_common()),
        }
        for name, counter in sorted(result.unmapped.items())
    }
    report.vocabulary = vocab_report.to_dict() if vocab_report else None
    if quarantine_dir is not None:
        _write_quarantine_file(quarantine_dir, result.quarantine)
    report.seconds = time.perf_counter() - started
    log.info(
        "etl.done rows_changed=%d quarantined=%d seconds=%.1f",
        report.changed_total,
        report.quarantined_total,
        report.seconds,
    )
    return report


def _write_quarantine_file(folder: Path, quarantine: QuarantineLog) -> Path:
    """The run's quarantine as CSV (table, file, line, source key, reason); no clinical content."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "etl-latest.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cdm_table", "source_file", "line", "source_key", "reason"])
        for r in quarantine.rows:
            writer.writerow([r.cdm_table, r.source_file, r.line, r.source_key, r.reason])
    return path
