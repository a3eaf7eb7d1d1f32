"""Learning-rate schedule and parameter groups for fine-tuning: linear warm-up then linear decay, head faster.

``linear_factor`` is the multiplier of the peak learning rate at a step (``torch.optim.lr_scheduler.LambdaLR``
applies it); ``param_groups`` gives the classification head (``classifier.*``) and the CRF (``crf.*``) their own
learning rate, and exempts biases and LayerNorm weights from weight decay, as BERT fine-tuning does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

HEAD_PREFIXES: tuple[str, ...] = ("classifier.", "crf.")
"""Parameters that start fresh on a pretrained encoder (they may learn faster)."""

_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight")


def linear_factor(step: int, total: int, warmup: int) -> float:
    """The multiplier at optimizer step ``step`` (0-based): ``(step+1)/warmup`` rising to 1, then linear to 0.

    After ``total`` steps the factor is 0; with ``warmup`` 0 it starts at 1.
    """
    if total <= 0:
        return 1.0
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def warmup_steps(total: int, ratio: float) -> int:
    """``ratio`` of ``total`` steps, rounded (at least one when ratio > 0)."""
    return max(1, round(total * ratio)) if ratio > 0 and total > 0 else 0


def param_groups(
    named: Sequence[tuple[str, torch.Tensor]], *, lr: float, head_lr: float | None, weight_decay: float
) -> list[dict[str, Any]]:
    """AdamW groups: encoder with/without decay at ``lr``, head (``classifier.``/``crf.``) at ``head_lr`` (or lr).

    Empty groups are left out.
    """
    groups: dict[tuple[bool, bool], list[torch.Tensor]] = {}
    for name, p in named:
        head = name.startswith(HEAD_PREFIXES)
        decay = not any(part in name for part in _NO_DECAY) and not name.startswith("crf.")
        groups.setdefault((head, decay), []).append(p)
    out: list[dict[str, Any]] = []
    for (head, decay), params in sorted(groups.items()):
        out.append(
            {
                "params": params,
                "lr": head_lr if head and head_lr is not None else lr,
                "weight_decay": weight_decay if decay else 0.0,
            }
        )
    return out


def linear_schedule(optimizer: torch.optim.Optimizer, total: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`linear_factor` to every group's initial learning rate."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: linear_factor(step, total, warmup))


__all__ = ["HEAD_PREFIXES", "linear_factor", "linear_schedule", "param_groups", "warmup_steps"]
