"""Entity-level precision, recall and F1 (seqeval, CoNLL-style matching of whole mentions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EntityScores:
    """Micro-averaged entity-level scores and the counts behind them."""

    precision: float
    recall: float
    f1: float
    support: int  # gold mentions

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": float(self.support)}


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> EntityScores:
    """Score predicted BIO tag sequences against gold ones: a mention counts only when type and span match."""
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.metrics.sequence_labeling import get_entities

    y_true = [list(s) for s in gold]
    y_pred = [list(s) for s in predicted]
    if len(y_true) != len(y_pred) or any(len(a) != len(b) for a, b in zip(y_true, y_pred, strict=True)):
        raise ValueError("gold and predicted sequences differ in shape")
    support = len(get_entities(y_true))
    return EntityScores(
        precision=float(precision_score(y_true, y_pred, zero_division=0)),
        recall=float(recall_score(y_true, y_pred, zero_division=0)),
        f1=float(f1_score(y_true, y_pred, zero_division=0)),
        support=support,
    )
