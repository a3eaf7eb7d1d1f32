"""Central fine-tuning with early stopping on the development set (the model-selection half of the schedule).

One :func:`node.ml.ner.train.train_local` call (one optimizer, one learning-rate schedule) that scores the devel
set every ``eval_every`` steps, keeps the best weights by devel F1, and stops after ``patience`` evaluations
without improvement. The test set is never looked at here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from node.ml.ner.data import NerExample
from node.ml.ner.encoding import EncodedDataset
from node.ml.ner.evaluate import evaluate
from node.ml.ner.model import NerModel, StateDict
from node.ml.ner.train import TrainConfig, train_local

log = logging.getLogger("fednode.node.ml.ner.finetune")


@dataclass
class FineTuneResult:
    """The weights kept (best on devel, or the last without a devel set), the step they were taken at, and the
    devel F1 history as ``(step, f1)`` pairs."""

    state: StateDict
    best_step: int
    steps: int
    best_devel_f1: float | None
    seconds: float
    history: list[tuple[int, float]] = field(default_factory=list)


def fine_tune(
    model: NerModel,
    train: Sequence[NerExample] | EncodedDataset,
    config: TrainConfig,
    *,
    devel: EncodedDataset | None = None,
    eval_every: int = 50,
    patience: int | None = None,
    eval_batch_size: int = 64,
    progress: bool = False,
) -> FineTuneResult:
    """Train from the model's current weights; with ``devel``, keep the best devel-F1 weights.

    ``patience`` None trains every step (model selection only); otherwise training stops after that many
    evaluations without a better devel F1 (early stopping).
    """
    started = time.perf_counter()
    initial = model.state()
    best: StateDict = initial
    best_f1: float | None = None
    best_step = 0
    history: list[tuple[int, float]] = []
    stale = 0

    def consider(step: int) -> bool:
        """Score devel now; True when patience has run out."""
        nonlocal best, best_f1, best_step, stale
        assert devel is not None
        f1 = evaluate(None, devel, model=model, batch_size=eval_batch_size).scores.f1
        history.append((step, f1))
        log.info("ner.devel_scored step=%d f1=%.4f", step, f1)
        if best_f1 is None or f1 > best_f1:
            best, best_f1, best_step, stale = model.state(), f1, step, 0
            return False
        stale += 1
        return patience is not None and stale >= patience

    def on_step(step: int) -> bool:
        return devel is not None and step % eval_every == 0 and consider(step)

    result = train_local(initial, train, config, model=model, progress=progress, desc="fine-tune", on_step=on_step)
    if devel is not None and (not history or history[-1][0] != result.num_steps):
        consider(result.num_steps)  # the last steps count too
    kept = best if devel is not None else model.state()
    model.load_state(kept)
    return FineTuneResult(
        state=kept,
        best_step=best_step if devel is not None else result.num_steps,
        steps=result.num_steps,
        best_devel_f1=best_f1,
        seconds=time.perf_counter() - started,
        history=history,
    )


__all__ = ["FineTuneResult", "fine_tune"]
