"""OMOP CDM v5.4: schema (SQLAlchemy 2.0), vocabulary load, Synthea-CSV ETL and the data-quality gate."""
