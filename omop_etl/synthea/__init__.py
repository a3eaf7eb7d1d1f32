"""Synthea v3 CSV -> OMOP CDM v5.4, following OHDSI ETL-Synthea's conventions."""
