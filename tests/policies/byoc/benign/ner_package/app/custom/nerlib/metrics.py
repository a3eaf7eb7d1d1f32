"""Entity-level scores with seqeval."""

from seqeval.metrics import f1_score, precision_score, recall_score


def entity_f1(gold, predicted):
    return {
        "precision": precision_score(gold, predicted),
        "recall": recall_score(gold, predicted),
        "f1": f1_score(gold, predicted),
    }
