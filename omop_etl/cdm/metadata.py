"""Standardized metadata tables.

Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omop_etl.cdm.base import Base


class Metadata(Base):
    """CDM v5.4 ``metadata``."""

    __tablename__ = "metadata"
    __table_args__ = (Index("idx_metadata_concept_id_1", "metadata_concept_id"),)

    metadata_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    metadata_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    metadata_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(250), nullable=False)
    value_as_string: Mapped[str | None] = mapped_column(String(250), nullable=True)
    value_as_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value_as_number: Mapped[float | None] = mapped_column(Float, nullable=True)
    metadata_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    metadata_datetime: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CdmSource(Base):
    """CDM v5.4 ``cdm_source``."""

    __tablename__ = "cdm_source"
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": ("cdm_source_abbreviation",),
    }

    cdm_source_name: Mapped[str] = mapped_column(String(255), nullable=False)
    cdm_source_abbreviation: Mapped[str] = mapped_column(String(25), nullable=False)
    cdm_holder: Mapped[str] = mapped_column(String(255), nullable=False)
    source_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_documentation_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cdm_etl_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source_release_date: Mapped[date] = mapped_column(Date, nullable=False)
    cdm_release_date: Mapped[date] = mapped_column(Date, nullable=False)
    cdm_version: Mapped[str | None] = mapped_column(String(10), nullable=True)
    cdm_version_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    vocabulary_version: Mapped[str] = mapped_column(String(20), nullable=False)
