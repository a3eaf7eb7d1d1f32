"""Benchmark of the static code scan (``python -m bench.scan``)."""
