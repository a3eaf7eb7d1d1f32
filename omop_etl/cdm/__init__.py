"""OMOP CDM v5.4 as SQLAlchemy 2.0 typed models: all 39 tables of the official specification.

``Base.metadata`` holds every table; :func:`create_cdm` creates them (with OHDSI's index set) on any
SQLAlchemy engine. The models are generated from the spec by ``omop_etl.cdm._codegen`` and reviewed.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Table

from omop_etl.cdm.base import Base
from omop_etl.cdm.clinical import (
    ConditionOccurrence,
    Death,
    DeviceExposure,
    DrugExposure,
    FactRelationship,
    Measurement,
    Note,
    NoteNlp,
    Observation,
    ObservationPeriod,
    Person,
    ProcedureOccurrence,
    Specimen,
    VisitDetail,
    VisitOccurrence,
)
from omop_etl.cdm.derived import ConditionEra, DoseEra, DrugEra, Episode, EpisodeEvent
from omop_etl.cdm.economics import Cost, PayerPlanPeriod
from omop_etl.cdm.health_system import CareSite, Location, Provider
from omop_etl.cdm.metadata import CdmSource, Metadata
from omop_etl.cdm.results import Cohort, CohortDefinition
from omop_etl.cdm.vocabulary import (
    Concept,
    ConceptAncestor,
    ConceptClass,
    ConceptRelationship,
    ConceptSynonym,
    Domain,
    DrugStrength,
    Relationship,
    SourceToConceptMap,
    Vocabulary,
)

__all__ = [
    "Base",
    "CareSite",
    "CdmSource",
    "Cohort",
    "CohortDefinition",
    "Concept",
    "ConceptAncestor",
    "ConceptClass",
    "ConceptRelationship",
    "ConceptSynonym",
    "ConditionEra",
    "ConditionOccurrence",
    "Cost",
    "Death",
    "DeviceExposure",
    "Domain",
    "DoseEra",
    "DrugEra",
    "DrugExposure",
    "DrugStrength",
    "Episode",
    "EpisodeEvent",
    "FactRelationship",
    "Location",
    "Measurement",
    "Metadata",
    "Note",
    "NoteNlp",
    "Observation",
    "ObservationPeriod",
    "PayerPlanPeriod",
    "Person",
    "ProcedureOccurrence",
    "Provider",
    "Relationship",
    "SourceToConceptMap",
    "Specimen",
    "VisitDetail",
    "VisitOccurrence",
    "Vocabulary",
    "create_cdm",
    "table",
]


def table(name: str) -> Table:
    """The CDM table called ``name`` (lower case, as in the spec)."""
    return Base.metadata.tables[name]


def create_cdm(bind: Engine | Connection) -> None:
    """Create every CDM table and OHDSI index that does not exist yet (idempotent)."""
    Base.metadata.create_all(bind, checkfirst=True)
