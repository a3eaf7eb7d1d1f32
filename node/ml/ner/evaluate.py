"""Evaluation: predict word-level tags from first-subword logits and score whole mentions with seqeval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812  # torch's own convention

from node.ml.ner.data import NerExample
from node.ml.ner.encoding import EncodedDataset, collate, encode
from node.ml.ner.labels import ID2LABEL, IGNORE_INDEX
from node.ml.ner.metrics import EntityScores, entity_scores
from node.ml.ner.model import NerModel, StateDict


@dataclass(frozen=True)
class EvalResult:
    """Entity-level scores, mean token loss, and the predicted tags per example."""

    scores: EntityScores
    loss: float
    predictions: tuple[tuple[str, ...], ...]

    def metrics(self) -> dict[str, float]:
        """Numbers only (what may leave a site): precision, recall, f1, support, loss."""
        return {**self.scores.as_dict(), "loss": self.loss}


def words_from_logits(logits: torch.Tensor, word_ids: Sequence[int | None], num_words: int) -> tuple[str, ...]:
    """One tag per word from the first subword's argmax; words lost to truncation are tagged ``O``."""
    tags = ["O"] * num_words
    best = logits.argmax(dim=-1).tolist()
    previous: int | None = None
    for pos, w in enumerate(word_ids):
        if w is not None and w != previous and pos < len(best):
            tags[w] = ID2LABEL[int(best[pos])]
        previous = w
    return tuple(tags)


@torch.no_grad()
def evaluate(
    state: StateDict | None,
    examples: Sequence[NerExample] | EncodedDataset,
    *,
    model: NerModel,
    batch_size: int = 64,
) -> EvalResult:
    """Score ``state`` (or the model's current weights when None) on gold-tagged examples."""
    data = examples if isinstance(examples, EncodedDataset) else encode(examples, model.tokenizer)
    if state is not None:
        model.load_state(state)
    net = model.model
    was_training = net.training
    net.eval()
    pad_id = int(model.tokenizer.pad_token_id or 0)
    order = sorted(range(len(data)), key=lambda i: len(data.encoded[i].input_ids))
    predictions: list[tuple[str, ...]] = [()] * len(data)
    loss_sum, token_count = 0.0, 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = {k: v.to(model.device) for k, v in collate([data.encoded[i] for i in idx], pad_id).items()}
        logits = net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        labels = batch["labels"]
        loss_sum += float(
            F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
            )
        )
        token_count += int((labels != IGNORE_INDEX).sum())
        for row, i in enumerate(idx):
            enc = data.encoded[i]
            predictions[i] = words_from_logits(logits[row, : len(enc.input_ids)].cpu(), enc.word_ids, enc.num_words)
    if was_training:
        net.train()
    gold = [ex.tags for ex in data.examples]
    return EvalResult(entity_scores(gold, predictions), loss_sum / max(token_count, 1), tuple(predictions))
