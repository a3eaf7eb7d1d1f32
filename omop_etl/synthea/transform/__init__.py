"""Synthea rows -> CDM rows, as OHDSI ETL-Synthea does it.

Conventions kept: source values (``*_source_value`` holds the Synthea code or id), ``*_source_concept_id`` the
source concept, ``*_concept_id`` the standard concept reached by ``Maps to`` (0 where none exists, counted as
unmapped), type concept 32817 (EHR) on every event, records routed to the table of their standard concept's
domain (a SNOMED "finding" in conditions.csv becomes an OBSERVATION). Rows that cannot be loaded are
quarantined with a reason and never stop the run.

The steps run in dependency order, each in its own module: ``health_system`` (locations, care sites,
providers), ``persons`` (person, death), ``visits``, ``events`` (the clinical tables); ``state`` holds what
they share.
"""

from __future__ import annotations

from omop_etl.synthea.transform.events import events
from omop_etl.synthea.transform.health_system import locations_and_care_sites, providers
from omop_etl.synthea.transform.persons import persons_and_deaths
from omop_etl.synthea.transform.state import Transformed, TransformState
from omop_etl.synthea.transform.visits import visits

__all__ = ["SyntheaTransformer", "Transformed"]

_EVENT_KEYS = (
    ("condition_occurrence", "condition_occurrence_id"),
    ("drug_exposure", "drug_exposure_id"),
    ("procedure_occurrence", "procedure_occurrence_id"),
    ("measurement", "measurement_id"),
    ("observation", "observation_id"),
    ("device_exposure", "device_exposure_id"),
)


class SyntheaTransformer(TransformState):
    """Builds every CDM table from the parsed Synthea files, allocating stable ids as it goes."""

    def run(self) -> Transformed:
        locations_and_care_sites(self)
        providers(self)
        persons_and_deaths(self)
        visits(self)
        events(self)
        for name, pk in _EVENT_KEYS:
            self.assign_ids(self.rowset(name), pk)
        return Transformed(
            tables=self.out,
            quarantine=self.quarantine,
            unmapped=dict(self.unmapped),
            unmapped_records=self.unmapped_records,
        )
