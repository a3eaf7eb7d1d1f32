"""The coordinator's per-round checkpoint cost against a federated round (``python -m bench.checkpoint``)."""
