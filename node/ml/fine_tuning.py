"""The NER fine-tuning options a run may ask for, checked where they are read (torch-free: the CLI checks them
before torch loads).

``schedule``: ``constant`` (the default) or ``linear`` (warm-up over 10 % of each local training call's steps,
then linear decay to 0, :mod:`node.ml.ner.schedule`). ``head_lr``: the classifier's and CRF's own learning rate
(None: the encoder's). ``subword_labels`` for training: ``first`` (only the first piece of a word is labelled)
or ``continue`` (the later pieces are trained as the word's continuation, :mod:`node.ml.ner.subwords`); decoding
reads the first piece either way. The CRF output layer is part of the model spec (``minilm+crf``).
"""

from __future__ import annotations

from collections.abc import Mapping

from fednode.errors import ConfigError

SCHEDULES: tuple[str, ...] = ("constant", "linear")
TRAIN_SUBWORDS: tuple[str, ...] = ("first", "continue")

_DEFAULT_NAMES = {"schedule": "schedule", "head_lr": "head_lr", "subword_labels": "subword_labels"}
CLI_FLAGS = {"schedule": "--schedule", "head_lr": "--head-lr", "subword_labels": "--subword-labels"}
"""The options as the command line spells them (``fednode experiment``, ``fednode study submit``)."""


def check_fine_tuning(
    *,
    schedule: object = "constant",
    head_lr: object = None,
    subword_labels: object = "first",
    names: Mapping[str, str] | None = None,
) -> None:
    """Refuse an unknown schedule, a head learning rate that is not a positive number or an unknown training
    sub-word labelling (ConfigError naming the option as ``names`` spells it, e.g. ``--schedule``)."""
    name = {**_DEFAULT_NAMES, **(names or {})}
    if schedule not in SCHEDULES:
        raise ConfigError(f"{name['schedule']}: unknown schedule {schedule!r}; use one of: {', '.join(SCHEDULES)}")
    bad_rate = isinstance(head_lr, bool) or not isinstance(head_lr, int | float) or not head_lr > 0
    if head_lr is not None and bad_rate:
        raise ConfigError(f"{name['head_lr']}: the head's learning rate must be a positive number, got {head_lr!r}")
    if subword_labels not in TRAIN_SUBWORDS:
        raise ConfigError(
            f"{name['subword_labels']}: unknown sub-word labelling {subword_labels!r}; "
            f"use one of: {', '.join(TRAIN_SUBWORDS)}"
        )


__all__ = ["CLI_FLAGS", "SCHEDULES", "TRAIN_SUBWORDS", "check_fine_tuning"]
