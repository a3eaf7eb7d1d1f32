"""Standardized derived elements (eras, episodes).

Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omop_etl.cdm.base import Base


class DrugEra(Base):
    """CDM v5.4 ``drug_era``."""

    __tablename__ = "drug_era"
    __table_args__ = (
        Index("idx_drug_era_person_id_1", "person_id"),
        Index("idx_drug_era_concept_id_1", "drug_concept_id"),
    )

    drug_era_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    drug_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    drug_era_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    drug_era_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    drug_exposure_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gap_days: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DoseEra(Base):
    """CDM v5.4 ``dose_era``."""

    __tablename__ = "dose_era"
    __table_args__ = (
        Index("idx_dose_era_person_id_1", "person_id"),
        Index("idx_dose_era_concept_id_1", "drug_concept_id"),
    )

    dose_era_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    drug_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    dose_value: Mapped[float] = mapped_column(Float, nullable=False)
    dose_era_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    dose_era_end_date: Mapped[date] = mapped_column(Date, nullable=False)


class ConditionEra(Base):
    """CDM v5.4 ``condition_era``."""

    __tablename__ = "condition_era"
    __table_args__ = (
        Index("idx_condition_era_person_id_1", "person_id"),
        Index("idx_condition_era_concept_id_1", "condition_concept_id"),
    )

    condition_era_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    condition_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    condition_era_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    condition_era_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    condition_occurrence_count: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Episode(Base):
    """CDM v5.4 ``episode``."""

    __tablename__ = "episode"

    episode_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    episode_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    episode_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    episode_start_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    episode_end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    episode_end_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    episode_parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    episode_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    episode_object_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    episode_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    episode_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    episode_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EpisodeEvent(Base):
    """CDM v5.4 ``episode_event``."""

    __tablename__ = "episode_event"
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "episode_id",
            "event_id",
            "episode_event_field_concept_id",
        ),
    }

    episode_id: Mapped[int] = mapped_column(Integer, nullable=False)
    event_id: Mapped[int] = mapped_column(Integer, nullable=False)
    episode_event_field_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
