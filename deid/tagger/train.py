"""Training the tagger from annotated notes (gold records as :mod:`deid.evaluate` reads them)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pycrfsuite
from tqdm import tqdm

from deid.tagger.features import FEATURE_VERSION, sentence_features
from deid.tagger.model import model_digest
from deid.tagger.tokens import bio_tags, tokenize
from fednode.errors import NoteInputError

DEFAULT_PARAMS: dict[str, float | int] = {"c1": 0.5, "c2": 0.01, "max_iterations": 150}
"""L1 keeps the model small (most word features end at zero weight), L2 keeps it smooth. c1 was chosen on parts L
and M, each with a model trained without it (0.05 / 0.15 / 0.3 / 0.5 / 0.8 / 1.2: recall rises with it while
distractors flagged rise too; 0.5 gave L 0.985, M 0.993 at 3.4-3.5 % flagged and half the model of 0.15)."""


def _example(record: Mapping[str, Any], where: str) -> tuple[list[list[str]], list[str]]:
    """Features and BIO tags of one gold record; a record without text, language or well-formed spans is refused."""
    text, lang, phi = record.get("text"), record.get("lang"), record.get("phi")
    if not isinstance(text, str) or not isinstance(lang, str) or not isinstance(phi, list):
        raise NoteInputError(f"{where}: a gold record needs text, lang and a phi list")
    spans: list[tuple[int, int, str]] = []
    for span in phi:
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise NoteInputError(f"{where}: span {span!r} lies outside the text")
        spans.append((start, end, str(label)))
    tokens = tokenize(text)
    return sentence_features(text, tokens, lang), bio_tags(tokens, spans)


def train(
    records: Iterable[tuple[str, Mapping[str, Any]]],
    model_path: Path,
    *,
    threshold: float,
    trained_on: Mapping[str, int],
    params: Mapping[str, float | int] = DEFAULT_PARAMS,
) -> dict[str, Any]:
    """Train on ``(where, record)`` pairs, write the model and its card beside it, and return the card.

    ``where`` names each record in errors (``dev2.jsonl:17``); ``trained_on`` (what went in, by source, with
    counts) and ``threshold`` go on the card.
    """
    trainer = pycrfsuite.Trainer(verbose=False)
    count = 0
    for where, record in tqdm(list(records), desc="tagger features", unit="note", leave=False):
        xseq, yseq = _example(record, where)
        if xseq:
            trainer.append(xseq, yseq)
            count += 1
    if not count:
        raise NoteInputError("no annotated note to train the tagger on")
    trainer.set_params(dict(params))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(model_path))
    card = {
        "feature_version": FEATURE_VERSION,
        "sha256": model_digest(model_path),
        "threshold": threshold,
        "params": dict(params),
        "notes": count,
        "trained_on": dict(trained_on),
    }
    model_path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card
