"""The declarative base of the CDM models, with OHDSI's constraint names (``xpk_<table>``, ``fpk_<table>_<col>``)."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "pk": "xpk_%(table_name)s",
    "fk": "fpk_%(table_name)s_%(column_0_name)s",
    "ix": "idx_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
}


class Base(DeclarativeBase):
    """Every CDM v5.4 table's model derives from this; ``Base.metadata`` holds all 39 tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
