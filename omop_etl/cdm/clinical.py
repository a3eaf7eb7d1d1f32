"""Standardized clinical data tables.

Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omop_etl.cdm.base import Base


class Person(Base):
    """CDM v5.4 ``person``."""

    __tablename__ = "person"
    __table_args__ = (
        Index("idx_person_id", "person_id"),
        Index("idx_gender", "gender_concept_id"),
    )

    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    gender_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    year_of_birth: Mapped[int] = mapped_column(Integer, nullable=False)
    month_of_birth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    day_of_birth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    birth_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    race_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    ethnicity_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    location_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    care_site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    person_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    gender_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    gender_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    race_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    race_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ethnicity_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    ethnicity_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ObservationPeriod(Base):
    """CDM v5.4 ``observation_period``."""

    __tablename__ = "observation_period"
    __table_args__ = (Index("idx_observation_period_id_1", "person_id"),)

    observation_period_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    observation_period_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    observation_period_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    period_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)


class VisitOccurrence(Base):
    """CDM v5.4 ``visit_occurrence``."""

    __tablename__ = "visit_occurrence"
    __table_args__ = (
        Index("idx_visit_person_id_1", "person_id"),
        Index("idx_visit_concept_id_1", "visit_concept_id"),
    )

    visit_occurrence_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    visit_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    visit_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    visit_start_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    visit_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    visit_end_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    visit_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    care_site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    visit_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    admitted_from_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    admitted_from_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    discharged_to_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    discharged_to_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    preceding_visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class VisitDetail(Base):
    """CDM v5.4 ``visit_detail``."""

    __tablename__ = "visit_detail"
    __table_args__ = (
        Index("idx_visit_det_person_id_1", "person_id"),
        Index("idx_visit_det_concept_id_1", "visit_detail_concept_id"),
        Index("idx_visit_det_occ_id", "visit_occurrence_id"),
    )

    visit_detail_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    visit_detail_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    visit_detail_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    visit_detail_start_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    visit_detail_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    visit_detail_end_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    visit_detail_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    care_site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    visit_detail_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    admitted_from_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    admitted_from_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    discharged_to_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    discharged_to_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    preceding_visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parent_visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int] = mapped_column(Integer, nullable=False)


class ConditionOccurrence(Base):
    """CDM v5.4 ``condition_occurrence``."""

    __tablename__ = "condition_occurrence"
    __table_args__ = (
        Index("idx_condition_person_id_1", "person_id"),
        Index("idx_condition_concept_id_1", "condition_concept_id"),
        Index("idx_condition_visit_id_1", "visit_occurrence_id"),
    )

    condition_occurrence_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    condition_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    condition_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    condition_start_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    condition_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    condition_end_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    condition_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    condition_status_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    condition_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    condition_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    condition_status_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)


class DrugExposure(Base):
    """CDM v5.4 ``drug_exposure``."""

    __tablename__ = "drug_exposure"
    __table_args__ = (
        Index("idx_drug_person_id_1", "person_id"),
        Index("idx_drug_concept_id_1", "drug_concept_id"),
        Index("idx_drug_visit_id_1", "visit_occurrence_id"),
    )

    drug_exposure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    drug_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    drug_exposure_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    drug_exposure_start_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    drug_exposure_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    drug_exposure_end_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    verbatim_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    drug_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    stop_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    refills: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    days_supply: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sig: Mapped[str | None] = mapped_column(Text, nullable=True)
    route_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lot_number: Mapped[str | None] = mapped_column(String(50), nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    drug_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    drug_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    route_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    dose_unit_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)


class ProcedureOccurrence(Base):
    """CDM v5.4 ``procedure_occurrence``."""

    __tablename__ = "procedure_occurrence"
    __table_args__ = (
        Index("idx_procedure_person_id_1", "person_id"),
        Index("idx_procedure_concept_id_1", "procedure_concept_id"),
        Index("idx_procedure_visit_id_1", "visit_occurrence_id"),
    )

    procedure_occurrence_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    procedure_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    procedure_date: Mapped[date] = mapped_column(Date, nullable=False)
    procedure_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    procedure_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    procedure_end_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    procedure_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    modifier_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quantity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    procedure_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    procedure_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    modifier_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)


class DeviceExposure(Base):
    """CDM v5.4 ``device_exposure``."""

    __tablename__ = "device_exposure"
    __table_args__ = (
        Index("idx_device_person_id_1", "person_id"),
        Index("idx_device_concept_id_1", "device_concept_id"),
        Index("idx_device_visit_id_1", "visit_occurrence_id"),
    )

    device_exposure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    device_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    device_exposure_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    device_exposure_start_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    device_exposure_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    device_exposure_end_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    device_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    unique_device_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    production_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    quantity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    device_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    unit_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Measurement(Base):
    """CDM v5.4 ``measurement``."""

    __tablename__ = "measurement"
    __table_args__ = (
        Index("idx_measurement_person_id_1", "person_id"),
        Index("idx_measurement_concept_id_1", "measurement_concept_id"),
        Index("idx_measurement_visit_id_1", "visit_occurrence_id"),
    )

    measurement_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    measurement_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    measurement_date: Mapped[date] = mapped_column(Date, nullable=False)
    measurement_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    measurement_time: Mapped[str | None] = mapped_column(String(10), nullable=True)
    measurement_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    operator_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value_as_number: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_as_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    range_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    range_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    measurement_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    measurement_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    unit_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    measurement_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    meas_event_field_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Observation(Base):
    """CDM v5.4 ``observation``."""

    __tablename__ = "observation"
    __table_args__ = (
        Index("idx_observation_person_id_1", "person_id"),
        Index("idx_observation_concept_id_1", "observation_concept_id"),
        Index("idx_observation_visit_id_1", "visit_occurrence_id"),
    )

    observation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    observation_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    observation_date: Mapped[date] = mapped_column(Date, nullable=False)
    observation_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    observation_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    value_as_number: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_as_string: Mapped[str | None] = mapped_column(String(60), nullable=True)
    value_as_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    qualifier_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    observation_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    observation_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    qualifier_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    value_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    observation_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    obs_event_field_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Death(Base):
    """CDM v5.4 ``death``."""

    __tablename__ = "death"
    __table_args__ = (Index("idx_death_person_id_1", "person_id"),)
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": ("person_id",),
    }

    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    death_date: Mapped[date] = mapped_column(Date, nullable=False)
    death_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    death_type_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    cause_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Note(Base):
    """CDM v5.4 ``note``."""

    __tablename__ = "note"
    __table_args__ = (
        Index("idx_note_person_id_1", "person_id"),
        Index("idx_note_concept_id_1", "note_type_concept_id"),
        Index("idx_note_visit_id_1", "visit_occurrence_id"),
    )

    note_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    note_date: Mapped[date] = mapped_column(Date, nullable=False)
    note_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    note_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    note_class_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    note_title: Mapped[str | None] = mapped_column(String(250), nullable=True)
    note_text: Mapped[str] = mapped_column(Text, nullable=False)
    encoding_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    language_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_occurrence_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    visit_detail_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    note_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note_event_field_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class NoteNlp(Base):
    """CDM v5.4 ``note_nlp``."""

    __tablename__ = "note_nlp"
    __table_args__ = (
        Index("idx_note_nlp_note_id_1", "note_id"),
        Index("idx_note_nlp_concept_id_1", "note_nlp_concept_id"),
    )

    note_nlp_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    note_id: Mapped[int] = mapped_column(Integer, nullable=False)
    section_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    snippet: Mapped[str | None] = mapped_column(String(250), nullable=True)
    offset: Mapped[str | None] = mapped_column(String(50), nullable=True)
    lexical_variant: Mapped[str] = mapped_column(String(250), nullable=False)
    note_nlp_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note_nlp_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    nlp_system: Mapped[str | None] = mapped_column(String(250), nullable=True)
    nlp_date: Mapped[date] = mapped_column(Date, nullable=False)
    nlp_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    term_exists: Mapped[str | None] = mapped_column(String(1), nullable=True)
    term_temporal: Mapped[str | None] = mapped_column(String(50), nullable=True)
    term_modifiers: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class Specimen(Base):
    """CDM v5.4 ``specimen``."""

    __tablename__ = "specimen"
    __table_args__ = (
        Index("idx_specimen_person_id_1", "person_id"),
        Index("idx_specimen_concept_id_1", "specimen_concept_id"),
    )

    specimen_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    specimen_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    specimen_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    specimen_date: Mapped[date] = mapped_column(Date, nullable=False)
    specimen_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    anatomic_site_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disease_status_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    specimen_source_id: Mapped[str | None] = mapped_column(String(50), nullable=True)
    specimen_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    unit_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    anatomic_site_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    disease_status_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)


class FactRelationship(Base):
    """CDM v5.4 ``fact_relationship``."""

    __tablename__ = "fact_relationship"
    __table_args__ = (
        Index("idx_fact_relationship_id1", "domain_concept_id_1"),
        Index("idx_fact_relationship_id2", "domain_concept_id_2"),
        Index("idx_fact_relationship_id3", "relationship_concept_id"),
    )
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "domain_concept_id_1",
            "fact_id_1",
            "domain_concept_id_2",
            "fact_id_2",
            "relationship_concept_id",
        ),
    }

    domain_concept_id_1: Mapped[int] = mapped_column(Integer, nullable=False)
    fact_id_1: Mapped[int] = mapped_column(Integer, nullable=False)
    domain_concept_id_2: Mapped[int] = mapped_column(Integer, nullable=False)
    fact_id_2: Mapped[int] = mapped_column(Integer, nullable=False)
    relationship_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
