"""Standardized vocabulary tables.

Generated from the OMOP CDM v5.4 specification by ``omop_etl.cdm._codegen``; reviewed, do not edit by hand.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omop_etl.cdm.base import Base


class Concept(Base):
    """CDM v5.4 ``concept``."""

    __tablename__ = "concept"
    __table_args__ = (
        Index("idx_concept_concept_id", "concept_id"),
        Index("idx_concept_code", "concept_code"),
        Index("idx_concept_vocabluary_id", "vocabulary_id"),
        Index("idx_concept_domain_id", "domain_id"),
        Index("idx_concept_class_id", "concept_class_id"),
    )

    concept_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    concept_name: Mapped[str] = mapped_column(String(255), nullable=False)
    domain_id: Mapped[str] = mapped_column(String(20), nullable=False)
    vocabulary_id: Mapped[str] = mapped_column(String(20), nullable=False)
    concept_class_id: Mapped[str] = mapped_column(String(20), nullable=False)
    standard_concept: Mapped[str | None] = mapped_column(String(1), nullable=True)
    concept_code: Mapped[str] = mapped_column(String(50), nullable=False)
    valid_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    valid_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    invalid_reason: Mapped[str | None] = mapped_column(String(1), nullable=True)


class Vocabulary(Base):
    """CDM v5.4 ``vocabulary``."""

    __tablename__ = "vocabulary"
    __table_args__ = (Index("idx_vocabulary_vocabulary_id", "vocabulary_id"),)

    vocabulary_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    vocabulary_name: Mapped[str] = mapped_column(String(255), nullable=False)
    vocabulary_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    vocabulary_version: Mapped[str | None] = mapped_column(String(255), nullable=True)
    vocabulary_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)


class Domain(Base):
    """CDM v5.4 ``domain``."""

    __tablename__ = "domain"
    __table_args__ = (Index("idx_domain_domain_id", "domain_id"),)

    domain_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    domain_name: Mapped[str] = mapped_column(String(255), nullable=False)
    domain_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)


class ConceptClass(Base):
    """CDM v5.4 ``concept_class``."""

    __tablename__ = "concept_class"
    __table_args__ = (Index("idx_concept_class_class_id", "concept_class_id"),)

    concept_class_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    concept_class_name: Mapped[str] = mapped_column(String(255), nullable=False)
    concept_class_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)


class ConceptRelationship(Base):
    """CDM v5.4 ``concept_relationship``."""

    __tablename__ = "concept_relationship"
    __table_args__ = (
        Index("idx_concept_relationship_id_1", "concept_id_1"),
        Index("idx_concept_relationship_id_2", "concept_id_2"),
        Index("idx_concept_relationship_id_3", "relationship_id"),
    )
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "concept_id_1",
            "concept_id_2",
            "relationship_id",
        ),
    }

    concept_id_1: Mapped[int] = mapped_column(Integer, nullable=False)
    concept_id_2: Mapped[int] = mapped_column(Integer, nullable=False)
    relationship_id: Mapped[str] = mapped_column(String(20), nullable=False)
    valid_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    valid_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    invalid_reason: Mapped[str | None] = mapped_column(String(1), nullable=True)


class Relationship(Base):
    """CDM v5.4 ``relationship``."""

    __tablename__ = "relationship"
    __table_args__ = (Index("idx_relationship_rel_id", "relationship_id"),)

    relationship_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    relationship_name: Mapped[str] = mapped_column(String(255), nullable=False)
    is_hierarchical: Mapped[str] = mapped_column(String(1), nullable=False)
    defines_ancestry: Mapped[str] = mapped_column(String(1), nullable=False)
    reverse_relationship_id: Mapped[str] = mapped_column(String(20), nullable=False)
    relationship_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)


class ConceptSynonym(Base):
    """CDM v5.4 ``concept_synonym``."""

    __tablename__ = "concept_synonym"
    __table_args__ = (Index("idx_concept_synonym_id", "concept_id"),)
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "concept_id",
            "concept_synonym_name",
            "language_concept_id",
        ),
    }

    concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    concept_synonym_name: Mapped[str] = mapped_column(String(1000), nullable=False)
    language_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)


class ConceptAncestor(Base):
    """CDM v5.4 ``concept_ancestor``."""

    __tablename__ = "concept_ancestor"
    __table_args__ = (
        Index("idx_concept_ancestor_id_1", "ancestor_concept_id"),
        Index("idx_concept_ancestor_id_2", "descendant_concept_id"),
    )
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "ancestor_concept_id",
            "descendant_concept_id",
        ),
    }

    ancestor_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    descendant_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    min_levels_of_separation: Mapped[int] = mapped_column(Integer, nullable=False)
    max_levels_of_separation: Mapped[int] = mapped_column(Integer, nullable=False)


class SourceToConceptMap(Base):
    """CDM v5.4 ``source_to_concept_map``."""

    __tablename__ = "source_to_concept_map"
    __table_args__ = (
        Index("idx_source_to_concept_map_3", "target_concept_id"),
        Index("idx_source_to_concept_map_1", "source_vocabulary_id"),
        Index("idx_source_to_concept_map_2", "target_vocabulary_id"),
        Index("idx_source_to_concept_map_c", "source_code"),
    )
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "source_code",
            "source_vocabulary_id",
            "target_concept_id",
            "valid_end_date",
        ),
    }

    source_code: Mapped[str] = mapped_column(String(50), nullable=False)
    source_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    source_vocabulary_id: Mapped[str] = mapped_column(String(20), nullable=False)
    source_code_description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    target_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    target_vocabulary_id: Mapped[str] = mapped_column(String(20), nullable=False)
    valid_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    valid_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    invalid_reason: Mapped[str | None] = mapped_column(String(1), nullable=True)


class DrugStrength(Base):
    """CDM v5.4 ``drug_strength``."""

    __tablename__ = "drug_strength"
    __table_args__ = (
        Index("idx_drug_strength_id_1", "drug_concept_id"),
        Index("idx_drug_strength_id_2", "ingredient_concept_id"),
    )
    # the spec gives this table no primary key: a mapper-level identity only, no constraint
    __mapper_args__ = {  # noqa: RUF012  # read once, at class creation
        "primary_key": (
            "drug_concept_id",
            "ingredient_concept_id",
        ),
    }

    drug_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    ingredient_concept_id: Mapped[int] = mapped_column(Integer, nullable=False)
    amount_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    amount_unit_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    numerator_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    numerator_unit_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    denominator_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    denominator_unit_concept_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_start_date: Mapped[date] = mapped_column(Date, nullable=False)
    valid_end_date: Mapped[date] = mapped_column(Date, nullable=False)
    invalid_reason: Mapped[str | None] = mapped_column(String(1), nullable=True)
