"""OMOP CDM v5.4: schema (SQLAlchemy 2.0), vocabulary load, Synthea-CSV ETL, the NOTE loader and the DQ gate.

Public face (import the rest from their modules):

* :func:`run_etl` / :class:`EtlReport`: Synthea v3 CSV -> CDM, idempotent, one transaction.
* :func:`load_notes`, :func:`read_gold_notes`, :class:`DeidentifiedNote`: NOTE / NOTE_NLP.
* :func:`run_dq` / :class:`DqReport`: the DataQualityDashboard-style gate.
* :func:`row_counts`: rows per CDM table (dashboard).
* :func:`make_engine`, :func:`create_cdm`.
"""

from omop_etl.cdm import create_cdm
from omop_etl.db import make_engine
from omop_etl.dq import DqReport, run_dq
from omop_etl.notes import DeidentifiedNote, NotesLoadReport, load_notes, read_gold_notes
from omop_etl.stats import row_counts
from omop_etl.synthea.run import EtlReport, run_etl

__all__ = [
    "DeidentifiedNote",
    "DqReport",
    "EtlReport",
    "NotesLoadReport",
    "create_cdm",
    "load_notes",
    "make_engine",
    "read_gold_notes",
    "row_counts",
    "run_dq",
    "run_etl",
]
