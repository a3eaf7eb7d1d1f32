"""CONDITION_ERA and DRUG_ERA, built the OHDSI way: exposures of one concept per person joined across gaps of
at most 30 days (the persistence window). Drug eras roll up to ingredients through CONCEPT_ANCESTOR when the
vocabulary has it; without it (the bundled subset) the drug concept itself stands in for its ingredient.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import Connection, select

from omop_etl.cdm import Concept, ConceptAncestor
from omop_etl.synthea.rowset import RowSet

PERSISTENCE = timedelta(days=30)

Interval = tuple[date, date]


def merge(intervals: Iterable[Interval], window: timedelta = PERSISTENCE) -> list[tuple[date, date, int, int]]:
    """Join intervals whose gap is at most ``window``: ``(start, end, count, days_not_exposed)`` per era."""
    eras: list[tuple[date, date, int, int]] = []
    start = end = None
    count = 0
    exposed = 0
    covered_to: date | None = None
    for s, e in sorted(intervals):
        if start is None or end is None or s > end + window:
            if start is not None and end is not None:
                eras.append((start, end, count, max((end - start).days - exposed, 0)))
            start, end, count, exposed, covered_to = s, e, 0, 0, None
        count += 1
        seg_start = s if covered_to is None or s > covered_to else covered_to
        if e > seg_start:
            exposed += (e - seg_start).days
        covered_to = e if covered_to is None or e > covered_to else covered_to
        end = max(end, e)
    if start is not None and end is not None:
        eras.append((start, end, count, max((end - start).days - exposed, 0)))
    return eras


def condition_eras(conditions: RowSet, out: RowSet) -> None:
    """Fill ``out`` (condition_era) from ``conditions`` (condition_occurrence)."""
    ip, ic = conditions.pos("person_id"), conditions.pos("condition_concept_id")
    i_s, i_e = conditions.pos("condition_start_date"), conditions.pos("condition_end_date")
    groups: dict[tuple[int, int], list[Interval]] = defaultdict(list)
    for row in conditions.rows:
        if row[ic]:
            start = row[i_s]
            groups[(row[ip], row[ic])].append((start, row[i_e] or start))
    for (person_id, concept_id), intervals in sorted(groups.items()):
        for start, end, count, _gap in merge(intervals):
            out.add(
                f"{person_id}|{concept_id}|{start.isoformat()}",
                {
                    "person_id": person_id,
                    "condition_concept_id": concept_id,
                    "condition_era_start_date": start,
                    "condition_era_end_date": end,
                    "condition_occurrence_count": count,
                },
            )


def ingredients(conn: Connection, drug_ids: set[int]) -> dict[int, int]:
    """drug concept -> ingredient concept (via CONCEPT_ANCESTOR); the drug itself where no ingredient is known."""
    out = {d: d for d in drug_ids}
    ids = sorted(drug_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(
            select(ConceptAncestor.descendant_concept_id, ConceptAncestor.ancestor_concept_id)
            .join(Concept, Concept.concept_id == ConceptAncestor.ancestor_concept_id)
            .where(
                ConceptAncestor.descendant_concept_id.in_(chunk),
                Concept.concept_class_id == "Ingredient",
                Concept.vocabulary_id.in_(("RxNorm", "RxNorm Extension")),
            )
            .order_by(ConceptAncestor.ancestor_concept_id)
        )
        for drug, ingredient in rows:
            out[int(drug)] = int(ingredient)
    return out


def drug_eras(conn: Connection, drugs: RowSet, out: RowSet) -> None:
    """Fill ``out`` (drug_era) from ``drugs`` (drug_exposure)."""
    ip, ic = drugs.pos("person_id"), drugs.pos("drug_concept_id")
    i_s, i_e = drugs.pos("drug_exposure_start_date"), drugs.pos("drug_exposure_end_date")
    roll_up = ingredients(conn, {row[ic] for row in drugs.rows if row[ic]})
    groups: dict[tuple[int, int], list[Interval]] = defaultdict(list)
    for row in drugs.rows:
        if row[ic]:
            groups[(row[ip], roll_up[row[ic]])].append((row[i_s], row[i_e] or row[i_s]))
    for (person_id, concept_id), intervals in sorted(groups.items()):
        for start, end, count, gap in merge(intervals):
            out.add(
                f"{person_id}|{concept_id}|{start.isoformat()}",
                {
                    "person_id": person_id,
                    "drug_concept_id": concept_id,
                    "drug_era_start_date": start,
                    "drug_era_end_date": end,
                    "drug_exposure_count": count,
                    "gap_days": gap,
                },
            )
