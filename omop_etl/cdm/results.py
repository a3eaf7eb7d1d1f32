"""Results-schema tables the CDM spec includes.

Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omop_etl.cdm.base import Base


class Cohort(Base):
    """CDM v5.4 ``cohort``."""

    __tablename__ = "cohort"
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "cohort_definition_id",
            "subject_id",
            "cohort_start_date",
            "cohort_end_date",
        ),
    }

    cohort_definition_id: Mapped[int] = mapped_column(Integer, nullable=False)
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)
    cohort_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    cohort_end_date: Mapped[date] = mapped_column(Date, nullable=False)


class CohortDefinition(Base):
    """CDM v5.4 ``cohort_definition``."""

    __tablename__ = "cohort_definition"
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": ("cohort_definition_id",),
    }

    cohort_definition_id: Mapped[int] = mapped_column(Integer, nullable=False)
    cohort_definition_name: Mapped[str] = mapped_column(String(255), nullable=False)
    cohort_definition_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    cohort_definition_syntax: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    cohort_initiation_date: Mapped[date | None] = mapped_column(Date, nullable=True)
