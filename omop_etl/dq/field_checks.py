"""DQD's field-level checks on each field the spec lists: the field exists, is required, has its datatype, is a
unique primary key or a resolving foreign key, points at concepts of the right domain, class and standard
status, is complete; then its plausibility (``plausibility.py``).
"""

from __future__ import annotations

from sqlalchemy import and_, distinct, exists, func, inspect, not_, or_, select

from omop_etl.cdm import Base
from omop_etl.dq.context import DqContext
from omop_etl.dq.plausibility import plausible_values, temporal_checks
from omop_etl.dq.spec import threshold


def field_checks(dq: DqContext) -> None:
    """Per CDM field in the spec: present, required, typed, keyed, conceptually valid, complete, plausible."""
    concept = dq.table("concept")
    for row in dq.spec.fields:
        name = row["cdmTableName"].lower()
        fld = row["cdmFieldName"].lower().strip('"')
        if name not in Base.metadata.tables:
            continue
        t = dq.table(name)
        if name not in dq.present:
            continue
        exists_in_db = fld in {c["name"] for c in inspect(dq.conn).get_columns(name)}
        dq.add("cdmField", "FIELD", name, fld, 0 if exists_in_db else 1, 1, 0.0)
        if not exists_in_db or fld not in t.c:
            continue
        col = t.c[fld]
        total = dq.rows(name)
        if total == 0:
            continue
        nonnull = and_(col.is_not(None))
        if row.get("isRequired") == "Yes":
            dq.add(
                "isRequired",
                "FIELD",
                name,
                fld,
                dq.violations(t, col.is_(None)),
                total,
                threshold(row, "isRequired"),
            )
        if row.get("cdmDatatype") == "integer":
            bad = (
                dq.violations(t, func.typeof(col).not_in(("integer", "null")))
                if dq.sqlite
                else _pg_type_bad(dq, name, fld)
            )
            dq.add("cdmDatatype", "FIELD", name, fld, bad, total, threshold(row, "cdmDatatype"))
        if row.get("isPrimaryKey") == "Yes":
            dup_values = select(col).where(nonnull).group_by(col).having(func.count() > 1)
            dups = dq.violations(t, col.in_(dup_values))
            dq.add("isPrimaryKey", "FIELD", name, fld, dups, total, threshold(row, "isPrimaryKey"))
        fk_table = row.get("fkTableName", "").lower()
        if row.get("isForeignKey") == "Yes" and fk_table in Base.metadata.tables and fk_table in dq.present:
            ft = dq.table(fk_table).alias("fk")  # aliased: a self-reference must not correlate to the row itself
            fc = ft.c[row["fkFieldName"].lower()]
            bad = dq.violations(t, and_(nonnull, not_(exists().where(fc == col))))
            dq.add("isForeignKey", "FIELD", name, fld, bad, total, threshold(row, "isForeignKey"))
        if row.get("fkDomain"):
            domains = [d.strip() for d in row["fkDomain"].split(",")]
            bad = dq.violations(
                t,
                exists().where(
                    concept.c.concept_id == col, concept.c.concept_id != 0, concept.c.domain_id.not_in(domains)
                ),
            )
            dq.add("fkDomain", "FIELD", name, fld, bad, total, threshold(row, "fkDomain"))
        if row.get("fkClass"):
            classes = [c.strip() for c in row["fkClass"].split(",")]
            bad = dq.violations(
                t,
                exists().where(
                    concept.c.concept_id == col,
                    concept.c.concept_id != 0,
                    concept.c.concept_class_id.not_in(classes),
                ),
            )
            dq.add("fkClass", "FIELD", name, fld, bad, total, threshold(row, "fkClass"))
        if row.get("isStandardValidConcept") == "Yes":
            bad = dq.violations(
                t,
                exists().where(
                    concept.c.concept_id == col,
                    concept.c.concept_id != 0,
                    or_(
                        concept.c.standard_concept.is_(None),
                        concept.c.standard_concept != "S",
                        concept.c.invalid_reason.is_not(None),
                    ),
                ),
            )
            dq.add("isStandardValidConcept", "FIELD", name, fld, bad, total, threshold(row, "isStandardValidConcept"))
        if row.get("measureValueCompleteness") == "Yes":
            dq.add(
                "measureValueCompleteness",
                "FIELD",
                name,
                fld,
                dq.violations(t, col.is_(None)),
                total,
                threshold(row, "measureValueCompleteness"),
            )
        for check in ("standardConceptRecordCompleteness", "sourceConceptRecordCompleteness"):
            if row.get(check) == "Yes":
                dq.add(check, "FIELD", name, fld, dq.violations(t, col == 0), total, threshold(row, check))
        if row.get("sourceValueCompleteness") == "Yes" and row.get("standardConceptFieldName"):
            std = t.c[row["standardConceptFieldName"].lower()]
            distinct_total = dq.count(select(func.count(distinct(col))).where(nonnull))
            unmapped = dq.count(select(func.count(distinct(col))).where(nonnull, std == 0))
            dq.add(
                "sourceValueCompleteness",
                "FIELD",
                name,
                fld,
                unmapped,
                distinct_total,
                threshold(row, "sourceValueCompleteness"),
            )
        plausible_values(dq, row, t, col, name, fld)
        temporal_checks(dq, row, t, col, name, fld, total)


def _pg_type_bad(dq: DqContext, table: str, fld: str) -> int:
    kinds = {c["name"]: str(c["type"]).lower() for c in inspect(dq.conn).get_columns(table)}
    return 0 if kinds.get(fld, "").startswith(("integer", "bigint", "smallint")) else dq.rows(table)
