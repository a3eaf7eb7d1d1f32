"""NER data: the TSV reader, char spans to word-level BIO, sentence chunks, shards."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fednode.errors import NerDataError
from node.ml.ner import CharSpan, NerExample, count_entities, read_conll, shard, spans_to_example, split_sentences
from tests.node.ner_support import MINI


def test_reads_the_mini_corpus() -> None:
    train = read_conll(MINI / "train.tsv")
    assert len(train) == 200
    assert all(len(ex.tokens) == len(ex.tags) > 0 for ex in train)
    assert count_entities(train) > 100
    assert read_conll(MINI / "train.tsv", limit=7) == train[:7]


def test_bad_tag_is_reported_with_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.tsv"
    f.write_text("Cancer\tB-Disease\nis\tO\n\nbad\tB-Gene\n", encoding="utf-8")
    with pytest.raises(NerDataError, match=r"bad\.tsv:4.*'tag'"):
        read_conll(f)
    f.write_text("no-tab-here\n", encoding="utf-8")
    with pytest.raises(NerDataError, match=r":1"):
        read_conll(f)


def test_char_spans_become_word_bio() -> None:
    text = "Patient [NAME] has cystic fibrosis and asthma."
    ex = spans_to_example(text, [CharSpan(19, 34, "Disease"), CharSpan(39, 45, "Disease"), CharSpan(8, 14, "NAME")])
    assert ex.tokens == ("Patient", "[NAME]", "has", "cystic", "fibrosis", "and", "asthma.")
    assert ex.tags == ("O", "O", "O", "B-Disease", "I-Disease", "O", "B-Disease")
    with pytest.raises(NerDataError, match="outside"):
        spans_to_example("short", [CharSpan(2, 99, "Disease")])


def test_long_note_is_cut_at_sentence_ends_never_inside_a_mention() -> None:
    ex = NerExample(
        ("A", "b.", "Colon", "cancer.", "remains", "x", "y", "z"),
        ("O", "O", "B-Disease", "I-Disease", "I-Disease", "O", "O", "O"),
    )
    chunks = split_sentences(ex, max_words=3)
    assert [c.tokens for c in chunks] == [("A", "b."), ("Colon", "cancer.", "remains"), ("x", "y", "z")]
    assert sum(len(c.tokens) for c in chunks) == len(ex.tokens)


@given(n=st.integers(0, 300), shares=st.lists(st.floats(0.5, 100.0), min_size=1, max_size=6))
def test_shards_partition_the_examples(n: int, shares: list[float]) -> None:
    examples = [NerExample((f"w{i}",), ("O",)) for i in range(n)]
    parts = shard(examples, shares, seed=3)
    assert len(parts) == len(shares)
    flat = [ex for p in parts for ex in p]
    assert sorted(flat, key=lambda e: int(e.tokens[0][1:])) == examples
    total = sum(shares)
    for p, s in zip(parts, shares, strict=True):
        assert abs(len(p) - s / total * n) <= 1.0 + 1e-9


def test_shards_are_reproducible_and_skewed_as_asked() -> None:
    examples = [NerExample((f"w{i}",), ("O",)) for i in range(100)]
    a = shard(examples, [90, 10], seed=1)
    assert [len(p) for p in a] == [90, 10]
    assert a == shard(examples, [90, 10], seed=1)
    assert a != shard(examples, [90, 10], seed=2)
