"""Audit-log and ledger benchmark (``python -m bench.audit``)."""
