"""A small NER library shipped with the job: data reading, the model, the metrics."""

from .data import read_split
from .metrics import entity_f1
from .model import build_model

__all__ = ["build_model", "entity_f1", "read_split"]
