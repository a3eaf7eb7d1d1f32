"""The two evaluation protocols of the experiments: ``standard`` and ``flare-example``.

``standard`` (the headline figures): the official NCBI-disease train/test files, the first sub-word of each
word labelled, predictions mapped back to words and scored with entity-level seqeval over every test word
(words cut off by the encoder's window count as predicted ``O``).

``flare-example`` reproduces the evaluation of NVIDIA FLARE's NCBI-disease NER example
(``examples/advanced/nlp-ner``; its figures P 0.96 R 0.98 F1 0.97 are the ones the consortium's report sets its
own beside): the sentences of all three files are pooled and re-split at random with a fixed seed (0, as the
example's ``prepare_data.sh``) into 80 % train, 10 % validation and 10 % test (the example's 10,125 / 1,266
train / validation rows are 8:1), and seqeval runs over the sequences of *labelled sub-word positions*: what
the example's ``local_valid`` and ``ner_model_test.py`` score (positions the encoder cut off drop out of both
gold and prediction instead of counting as misses). The example's ``align_label`` labels the first sub-word of
each word; ``subword_labels="all"`` instead labels every sub-word piece with its word's tag (training and
scoring), the variant the issue describes.

A random sentence re-split puts sentences of one abstract on both sides of the split; abstracts repeat their
disease names, so the test set holds many names seen verbatim in training. That, not the model, is most of
the difference between the two protocols' figures.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fednode.errors import NerDataError
from node.ml.experiments.config import STANDARD, check_protocol
from node.ml.ner import IGNORE_INDEX, LABEL2ID, MAX_LENGTH, Encoded, EncodedDataset, NerExample, encode, read_conll

FLARE_SEED = 0
"""The example's ``--random_seed 0``."""
FLARE_PROPORTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)
"""Train / validation / test shares of the pooled sentences."""


@dataclass(frozen=True)
class Splits:
    """The sentences one protocol trains and tests on."""

    train: list[NerExample]
    devel: list[NerExample]
    test: list[NerExample]


def resplit(pooled: Sequence[NerExample], *, seed: int = FLARE_SEED) -> Splits:
    """Shuffle ``pooled`` with ``seed`` and cut it 80 / 10 / 10 (train / validation / test)."""
    order = list(range(len(pooled)))
    random.Random(seed).shuffle(order)  # noqa: S311  # a reproducible split, not a secret
    n_train = round(FLARE_PROPORTIONS[0] * len(order))
    n_devel = round(FLARE_PROPORTIONS[1] * len(order))
    pick = [pooled[i] for i in order]
    return Splits(pick[:n_train], pick[n_train : n_train + n_devel], pick[n_train + n_devel :])


def load_splits(protocol: str, data_dir: Path) -> Splits:
    """The protocol's train / validation / test sentences from ``data_dir`` (train.tsv, devel.tsv, test.tsv)."""
    check_protocol(protocol)
    if protocol == STANDARD:
        devel_path = data_dir / "devel.tsv"
        devel = read_conll(devel_path) if devel_path.is_file() else []
        return Splits(read_conll(data_dir / "train.tsv"), devel, read_conll(data_dir / "test.tsv"))
    pooled = [ex for name in ("train.tsv", "devel.tsv", "test.tsv") for ex in read_conll(data_dir / name)]
    return resplit(pooled)


def encode_all_subwords(
    examples: Sequence[NerExample], tokenizer: Any, *, max_length: int = MAX_LENGTH
) -> EncodedDataset:
    """Like :func:`node.ml.ner.encode`, but every sub-word piece carries its word's tag (special tokens -100)."""
    if not getattr(tokenizer, "is_fast", False):
        raise NerDataError("sub-word labelling needs a fast tokenizer (tokenizer.json in the model folder)")
    if not examples:
        return EncodedDataset((), ())
    batch = tokenizer(
        [list(ex.tokens) for ex in examples], is_split_into_words=True, truncation=True, max_length=max_length
    )
    out: list[Encoded] = []
    for i, ex in enumerate(examples):
        word_ids: list[int | None] = batch.word_ids(i)
        labels = tuple(IGNORE_INDEX if w is None else LABEL2ID[ex.tags[w]] for w in word_ids)
        out.append(Encoded(tuple(batch["input_ids"][i]), labels, tuple(word_ids), len(ex.tokens)))
    return EncodedDataset(tuple(examples), tuple(out))


def encoder_for(subword_labels: str) -> Any:
    """The encoding function of a sub-word labelling (``first``: the trainer's own)."""
    return encode_all_subwords if subword_labels == "all" else encode
