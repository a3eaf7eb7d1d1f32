"""Reading the staged TOKEN<TAB>TAG files."""

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Sentence:
    words: list
    tags: list


def read_split(data_dir, split):
    path = Path(data_dir) / f"{split}.tsv"
    sentences, words, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append(Sentence(words, tags))
            words, tags = [], []
            continue
        word, tag = line.split("\t", 1)
        words.append(word)
        tags.append(tag)
    if words:
        sentences.append(Sentence(words, tags))
    return sentences
