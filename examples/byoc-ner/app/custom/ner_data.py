"""Reading the site's NER split and turning it into model batches.

The site stages ``data/train.tsv`` and ``data/dev.tsv``: one ``TOKEN<TAB>TAG`` line per word, BIO tags, a blank
line after each sentence. Labels go on each word's first sub-word; the others get -100 (ignored by the loss).
"""

import random
from pathlib import Path

import torch

IGNORE = -100
MAX_LENGTH = 128


def read_tsv(path):
    """Sentences as ``(words, tags)`` pairs."""
    sentences = []
    words, tags = [], []
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line.strip():
                if words:
                    sentences.append((words, tags))
                    words, tags = [], []
                continue
            word, tag = line.split("\t")
            words.append(word)
            tags.append(tag)
    if words:
        sentences.append((words, tags))
    return sentences


def encode(sentences, tokenizer, label2id):
    """Tokenize a list of sentences into one padded batch with word-aligned labels."""
    batch = tokenizer(
        [words for words, _ in sentences],
        is_split_into_words=True,
        truncation=True,
        max_length=MAX_LENGTH,
        padding=True,
        return_tensors="pt",
    )
    labels = []
    for i, (_, tags) in enumerate(sentences):
        row, previous = [], None
        for word_id in batch.word_ids(i):
            if word_id is None or word_id == previous:
                row.append(IGNORE)
            else:
                row.append(label2id[tags[word_id]])
            previous = word_id
        labels.append(row)
    batch["labels"] = torch.tensor(labels)
    return batch


def batches(sentences, batch_size, seed=None):
    """The sentences in batches, shuffled when ``seed`` is given."""
    order = list(range(len(sentences)))
    if seed is not None:
        random.Random(seed).shuffle(order)  # noqa: S311  # a reproducible order, not a secret
    for start in range(0, len(order), batch_size):
        yield [sentences[i] for i in order[start : start + batch_size]]


def predicted_tags(batch, logits, id2label):
    """Each sentence's predicted tag per (kept) word: the prediction at its first sub-word."""
    best = logits.argmax(dim=-1)
    out = []
    for i in range(best.shape[0]):
        tags, previous = [], None
        for position, word_id in enumerate(batch.word_ids(i)):
            if word_id is not None and word_id != previous:
                tags.append(id2label[int(best[i, position])])
            previous = word_id
        out.append(tags)
    return out
