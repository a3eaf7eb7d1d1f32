"""Inference: load a downloaded model folder and tag free text with character-offset disease spans.

A model folder (:mod:`node.coordinator.model_folder`) holds ``config.json`` and the tokenizer files of the
architecture the study trained, ``labels.json`` and the signed weights ``global_model.safetensors``. Text is cut
into words the way NCBI-disease is tokenised (runs of word characters, each other non-space character alone),
into sentence-sized chunks, tagged word by word, and the BIO runs become ``(start, end, label)`` spans on the
original text (end exclusive), so ``text[start:end]`` is the mention.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from fednode.errors import ConfigError
from node.ml.ner.data import NerExample, split_sentences
from node.ml.ner.evaluate import evaluate
from node.ml.ner.labels import ID2LABEL, LABEL2ID, LABELS
from node.ml.ner.model import NerModel

WEIGHTS_FILE = "global_model.safetensors"
LABELS_FILE = "labels.json"
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Mention:
    """A predicted mention: character offsets on the note's text (end exclusive) and its entity label."""

    start: int
    end: int
    label: str


def words_with_offsets(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each word: word-character runs and single punctuation marks (NCBI-style)."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def spans_from_tags(offsets: Sequence[tuple[int, int]], tags: Sequence[str]) -> list[Mention]:
    """BIO tags per word -> mentions; an ``I-`` without a preceding mention of its type starts one."""
    out: list[Mention] = []
    current: list[int] | None = None  # [start, end]
    label = ""
    for (start, end), tag in zip(offsets, tags, strict=True):
        kind, _, typ = tag.partition("-")
        if kind == "I" and current is not None and typ == label:
            current[1] = end
            continue
        if current is not None:
            out.append(Mention(current[0], current[1], label))
            current = None
        if kind in ("B", "I") and typ:
            current, label = [start, end], typ
    if current is not None:
        out.append(Mention(current[0], current[1], label))
    return out


def load_model_folder(folder: Path, *, device: str = "cpu") -> NerModel:
    """Build the token-classification model from ``config.json``, the tokenizer and the weights in ``folder``.

    Raises ConfigError when a file is missing or the weights do not fit the architecture (a CRF layer is added
    when the weights carry one).
    """
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        config.num_labels = len(LABELS)
        config.id2label = dict(ID2LABEL)
        config.label2id = dict(LABEL2ID)
        net = AutoModelForTokenClassification.from_config(config)  # type: ignore[no-untyped-call]  # transformers stub
        state = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder}: not a usable model folder ({type(exc).__name__}: {exc})") from exc
    if any(key.startswith("crf.") for key in state):
        from node.ml.ner.crf import attach_crf  # only for a model trained with a CRF output layer

        attach_crf(net)
    model = NerModel(model=net, tokenizer=tokenizer, device=torch.device(device), spec=str(folder))
    model.load_state(state)
    net.to(model.device)
    net.eval()
    return model


def predict_mentions(
    model: NerModel,
    notes: Iterable[tuple[int, str]],
    *,
    batch_size: int = 64,
    progress: bool = False,
    on_note: Callable[[int, list[Mention]], None] | None = None,
) -> dict[int, list[Mention]]:
    """Tag each ``(note_id, text)``; returns note_id -> mentions in offset order (every note, maybe empty)."""
    pending = list(notes)
    out: dict[int, list[Mention]] = {}
    bar = tqdm(total=len(pending), desc="predict", unit="note", file=sys.stderr, disable=not progress, leave=False)
    try:
        group: list[tuple[int, list[tuple[int, int]], list[NerExample]]] = []
        sentences = 0
        for note_id, text in pending:
            offsets = words_with_offsets(text)
            whole = NerExample(tuple(text[s:e] for s, e in offsets), ("O",) * len(offsets))
            chunks = split_sentences(whole) if offsets else []
            group.append((note_id, offsets, chunks))
            sentences += len(chunks)
            if sentences >= batch_size:
                _tag_group(model, group, out, batch_size, on_note)
                bar.update(len(group))
                group, sentences = [], 0
        if group:
            _tag_group(model, group, out, batch_size, on_note)
            bar.update(len(group))
    finally:
        bar.close()
    return out


def _tag_group(
    model: NerModel,
    group: Sequence[tuple[int, list[tuple[int, int]], list[NerExample]]],
    out: dict[int, list[Mention]],
    batch_size: int,
    on_note: Callable[[int, list[Mention]], None] | None,
) -> None:
    examples = [chunk for _, _, chunks in group for chunk in chunks]
    predicted = list(evaluate(None, examples, model=model, batch_size=batch_size).predictions) if examples else []
    at = 0
    for note_id, offsets, chunks in group:
        tags: list[str] = []
        for _ in chunks:
            tags.extend(predicted[at])
            at += 1
        mentions = spans_from_tags(offsets, tags)
        out[note_id] = mentions
        if on_note is not None:
            on_note(note_id, mentions)
