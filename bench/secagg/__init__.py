"""Secure aggregation's cost per round against plain FedAvg: ``python -m bench.secagg``."""
