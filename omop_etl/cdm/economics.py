"""Standardized health-economics tables.

Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omop_etl.cdm.base import Base


class PayerPlanPeriod(Base):
    """CDM v5.4 ``payer_plan_period``."""

    __tablename__ = "payer_plan_period"
    __table_args__ = (Index("idx_period_person_id_1", "person_id"),)

    payer_plan_period_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    payer_plan_period_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    payer_plan_period_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    payer_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payer_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    payer_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    plan_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    plan_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    plan_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sponsor_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sponsor_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    sponsor_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    family_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    stop_reason_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stop_reason_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    stop_reason_source_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Cost(Base):
    """CDM v5.4 ``cost``."""

    __tablename__ = "cost"
    __table_args__ = (Index("idx_cost_event_id", "cost_event_id"),)

    cost_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cost_event_id: Mapped[int] = mapped_column(Integer, nullable=False)
    cost_domain_id: Mapped[str] = mapped_column(String(20), nullable=False)
    cost_type_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    currency_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total_charge: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_paid: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_by_payer: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_by_patient: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_patient_copay: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_patient_coinsurance: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_patient_deductible: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_by_primary: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_ingredient_cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    paid_dispensing_fee: Mapped[float | None] = mapped_column(Float, nullable=True)
    payer_plan_period_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    amount_allowed: Mapped[float | None] = mapped_column(Float, nullable=True)
    revenue_code_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revenue_code_source_value: Mapped[str | None] = mapped_column(String(50), nullable=True)
    drg_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    drg_source_value: Mapped[str | None] = mapped_column(String(3), nullable=True)
