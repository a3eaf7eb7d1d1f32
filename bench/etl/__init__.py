"""ETL benchmark: a scaled Synthea extract into SQLite and PostgreSQL, against a raw bulk insert."""
