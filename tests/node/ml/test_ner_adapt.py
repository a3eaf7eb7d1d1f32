"""In-domain MLM adaptation: masking leaves special tokens alone; the adapted checkpoint loads as an NER model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fednode.errors import ConfigError
from node.ml.ner import default_model_dir, load_ner_model
from node.ml.ner.adapt import CORPUS_FILES, AdaptConfig, adapt_encoder, adapt_facts, corpus_sentences, mask_tokens
from tests.node.ner_support import MINI


def test_masking_never_touches_special_tokens_or_padding() -> None:
    ids = torch.tensor([[101, 7, 8, 9, 102, 0, 0], [101, 5, 6, 7, 8, 9, 102]])
    special = torch.tensor([[1, 0, 0, 0, 1, 1, 1], [1, 0, 0, 0, 0, 0, 1]], dtype=torch.bool)
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        masked, labels = mask_tokens(ids, special, mask_token_id=103, vocab_size=30522, mask_prob=0.9, generator=gen)
        assert torch.equal(masked[special], ids[special])
        assert bool((labels[special] == -100).all())
        chosen = labels != -100
        assert torch.equal(labels[chosen], ids[chosen])  # the targets are the original tokens
    gen = torch.Generator().manual_seed(1)
    big = torch.randint(1000, 2000, (64, 64))
    masked, labels = mask_tokens(
        big, torch.zeros_like(big, dtype=torch.bool), mask_token_id=103, vocab_size=30522, mask_prob=0.15, generator=gen
    )
    rate = float((labels != -100).float().mean())
    assert 0.12 < rate < 0.18
    share_masked = float((masked[labels != -100] == 103).float().mean())
    assert 0.7 < share_masked < 0.9


def test_corpus_is_train_and_devel_words_only() -> None:
    assert "test.tsv" not in CORPUS_FILES
    sentences = corpus_sentences(MINI)
    from node.ml.ner import read_conll

    expected = [list(e.tokens) for name in CORPUS_FILES for e in read_conll(MINI / name)]
    assert sentences == expected


def test_adapted_checkpoint_is_cached_and_loads(tmp_path: Path) -> None:
    config = AdaptConfig(steps=2, batch_size=4, seed=0)
    folder = adapt_encoder(default_model_dir(), MINI, tmp_path, config)
    assert folder.parent == tmp_path and (folder / "config.json").is_file()
    facts = adapt_facts(folder)
    assert facts["corpus_files"] == ["train.tsv", "devel.tsv"] and facts["config"]["steps"] == 2
    model = load_ner_model(folder, seed=0)
    base = load_ner_model("minilm", seed=0)
    adapted, original = model.state(), base.state()
    assert set(adapted) == set(original)
    moved = [k for k in original if k.startswith("bert.encoder") and not torch.equal(adapted[k], original[k])]
    assert moved  # the encoder did change
    stamp = (folder / "adapt.json").stat().st_mtime_ns
    assert adapt_encoder(default_model_dir(), MINI, tmp_path, config) == folder  # reused, not retrained
    assert (folder / "adapt.json").stat().st_mtime_ns == stamp


def test_adapt_refuses_a_missing_base(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        adapt_encoder(tmp_path / "nope", MINI, tmp_path, AdaptConfig(steps=1))
