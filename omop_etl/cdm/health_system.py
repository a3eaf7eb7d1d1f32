"""Standardized health-system tables.

Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.
"""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omop_etl.cdm.base import Base


class Location(Base):
    """CDM v5.4 ``location``."""

    __tablename__ = "location"
    __table_args__ = (Index("idx_location_id_1", "location_id"),)

    location_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    address_1: Mapped[str | None] = mapped_column(String(50), nullable=True)
    address_2: Mapped[str | None] = mapped_column(String(50), nullable=True)
    city: Mapped[str | None] = mapped_column(String(50), nullable=True)
    state: Mapped[str | None] = mapped_column(String(2), nullable=True)
    zip: Mapped[str | None] = mapped_column(String(9), nullable=True)
    county: Mapped[str | None] = mapped_column(String(20), nullable=True)
    location_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    country_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    country_source_value: Mapped[str | None] = mapped_column(String(80), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)


class CareSite(Base):
    """CDM v5.4 ``care_site``."""

    __tablename__ = "care_site"
    __table_args__ = (Index("idx_care_site_id_1", "care_site_id"),)

    care_site_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    care_site_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    place_of_service_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    location_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    care_site_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    place_of_service_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)


class Provider(Base):
    """CDM v5.4 ``provider``."""

    __tablename__ = "provider"
    __table_args__ = (Index("idx_provider_id_1", "provider_id"),)

    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    npi: Mapped[str | None] = mapped_column(String(20), nullable=True)
    dea: Mapped[str | None] = mapped_column(String(20), nullable=True)
    specialty_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    care_site_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    year_of_birth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gender_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    specialty_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    specialty_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gender_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    gender_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
