"""Evaluation: predict tags from the logits and score whole mentions with seqeval, plus token accuracy.

``level="word"`` (the standard protocol): one tag per word from its first sub-word, every word of the example
scored (words lost to truncation count as ``O``). ``level="subword"`` (NVIDIA FLARE's NER example): the tags at
the labelled sub-word positions of the encoding (label != -100), scored as sequences of those positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812  # torch's own convention

from node.ml.ner.crf import crf_of, words_from_crf
from node.ml.ner.data import NerExample
from node.ml.ner.encoding import EncodedDataset, collate, encode
from node.ml.ner.labels import ID2LABEL, IGNORE_INDEX
from node.ml.ner.metrics import EntityScores, entity_scores
from node.ml.ner.model import NerModel, StateDict


@dataclass(frozen=True)
class EvalResult:
    """Entity-level scores, mean token loss, the predicted tags per example (words or labelled sub-words), and
    token-level accuracy over the same positions."""

    scores: EntityScores
    loss: float
    predictions: tuple[tuple[str, ...], ...]
    accuracy: float = float("nan")

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


def labelled_positions(logits: torch.Tensor, labels: Sequence[int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(gold, predicted) tags at the positions whose label is not -100 (the sub-word-level view)."""
    best = logits.argmax(dim=-1).tolist()
    keep = [pos for pos, lab in enumerate(labels) if lab != IGNORE_INDEX and pos < len(best)]
    return tuple(ID2LABEL[labels[p]] for p in keep), tuple(ID2LABEL[int(best[p])] for p in keep)


def token_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """The share of positions whose predicted tag equals the gold one (micro; NaN when there are none)."""
    total = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, predicted, strict=True) for a, b in zip(g, p, strict=True))
    return right / total if total else float("nan")


@torch.no_grad()
def evaluate(
    state: StateDict | None,
    examples: Sequence[NerExample] | EncodedDataset,
    *,
    model: NerModel,
    batch_size: int = 64,
    level: str = "word",
) -> EvalResult:
    """Score ``state`` (or the model's current weights when None) on gold-tagged examples, per ``level``."""
    if level not in ("word", "subword"):
        raise ValueError(f"level is 'word' or 'subword', not {level!r}")
    data = examples if isinstance(examples, EncodedDataset) else encode(examples, model.tokenizer)
    if state is not None:
        model.load_state(state)
    net = model.model
    was_training = net.training
    net.eval()
    pad_id = int(model.tokenizer.pad_token_id or 0)
    crf = crf_of(net)
    order = sorted(range(len(data)), key=lambda i: len(data.encoded[i].input_ids))
    predictions: list[tuple[str, ...]] = [()] * len(data)
    golds: list[tuple[str, ...]] = [ex.tags for ex in data.examples]
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
            row_logits = logits[row, : len(enc.input_ids)].cpu()
            if level == "word" and crf is not None:  # a CRF layer decodes the word sequence with Viterbi
                predictions[i] = words_from_crf(crf, row_logits, enc.word_ids, enc.num_words)
            elif level == "word":
                predictions[i] = words_from_logits(row_logits, enc.word_ids, enc.num_words)
            else:
                golds[i], predictions[i] = labelled_positions(row_logits, enc.labels)
    if was_training:
        net.train()
    return EvalResult(
        entity_scores(golds, predictions),
        loss_sum / max(token_count, 1),
        tuple(predictions),
        token_accuracy(golds, predictions),
    )
