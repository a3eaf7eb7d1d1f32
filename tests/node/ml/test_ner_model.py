"""Encoding (first-subword labelling), the seqeval metric, the trainer (plain, FedProx, SCAFFOLD), evaluation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from fednode.errors import ConfigError, NerDataError
from node.ml.aggregation import apply_update, l2_norm
from node.ml.ner import (
    IGNORE_INDEX,
    LABEL2ID,
    EncodedDataset,
    NerExample,
    NerModel,
    ScaffoldControls,
    TrainConfig,
    encode,
    encode_for,
    entity_scores,
    evaluate,
    load_ner_model,
    read_conll,
    train_local,
)
from node.ml.ner.evaluate import words_from_logits
from tests.node.ner_support import MINI


@pytest.fixture(scope="module")
def tiny() -> Iterator[NerModel]:
    yield load_ner_model("tiny", seed=0)


@pytest.fixture(scope="module")
def train_data(tiny: NerModel) -> EncodedDataset:
    return encode_for(read_conll(MINI / "train.tsv"), tiny)


def test_first_subword_carries_the_label(tiny: NerModel) -> None:
    ex = NerExample(("Familial", "adenomatous", "polyposis", "."), ("B-Disease", "I-Disease", "I-Disease", "O"))
    enc = encode([ex], tiny.tokenizer).encoded[0]
    pieces = tiny.tokenizer.convert_ids_to_tokens(list(enc.input_ids))
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert len(pieces) > 6  # the medical words split into several subwords
    first_positions = [i for i, w in enumerate(enc.word_ids) if w is not None and (i == 0 or enc.word_ids[i - 1] != w)]
    for pos, label in enumerate(enc.labels):
        if pos in first_positions:
            assert label == LABEL2ID[ex.tags[enc.word_ids[pos]]]  # type: ignore[index]
        else:
            assert label == IGNORE_INDEX
    assert [enc.labels[p] for p in first_positions] == [1, 2, 2, 0]


def test_truncation_keeps_max_length_and_scores_lost_words_as_o(tiny: NerModel) -> None:
    ex = NerExample(tuple(["word"] * 300), tuple(["O"] * 299 + ["B-Disease"]))
    enc = encode([ex], tiny.tokenizer, max_length=128).encoded[0]
    assert len(enc.input_ids) == 128
    tags = words_from_logits(torch.zeros(128, 3), enc.word_ids, enc.num_words)
    assert len(tags) == 300 and tags[-1] == "O"


def test_seqeval_entity_scores_on_a_hand_example() -> None:
    gold = [["B-Disease", "I-Disease", "O", "B-Disease"], ["O", "B-Disease", "O"]]
    pred = [["B-Disease", "I-Disease", "O", "O"], ["O", "B-Disease", "I-Disease"]]
    s = entity_scores(gold, pred)
    # gold mentions: 3; predicted: 2; exact matches: 1 (the second sentence's span is too long)
    assert s.support == 3
    assert s.precision == pytest.approx(1 / 2)
    assert s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))


def test_trainer_learns_on_the_mini_corpus(tiny: NerModel, train_data: EncodedDataset) -> None:
    state = tiny.state()
    before = evaluate(state, train_data, model=tiny)
    losses = []
    for epoch in range(4):
        result = train_local(state, train_data, TrainConfig(lr=3e-3, seed=epoch), model=tiny)
        state = apply_update(state, result.update)
        losses.append(result.metrics["train_loss"])
    after = evaluate(state, train_data, model=tiny)
    assert losses[-1] < 0.6 * losses[0]
    assert after.loss < 0.5 * before.loss
    assert after.scores.f1 > 0.3 > before.scores.f1
    assert result.num_examples == 200 and result.num_steps == 13


def test_training_is_deterministic_for_a_seed(tiny: NerModel, train_data: EncodedDataset) -> None:
    state = tiny.state()
    cfg = TrainConfig(lr=1e-3, seed=11, max_steps=3)
    a = train_local(state, train_data, cfg, model=tiny)
    b = train_local(state, train_data, cfg, model=tiny)
    c = train_local(state, train_data, TrainConfig(lr=1e-3, seed=12, max_steps=3), model=tiny)
    assert all(torch.equal(a.update[k], b.update[k]) for k in a.update)
    assert not all(torch.equal(a.update[k], c.update[k]) for k in a.update)
    assert set(a.update) == {k for k, v in state.items() if torch.is_floating_point(v)}


def test_fedprox_term_keeps_the_update_closer_to_the_global_model(tiny: NerModel, train_data: EncodedDataset) -> None:
    state = tiny.state()
    free = train_local(state, train_data, TrainConfig(lr=3e-3, seed=0, max_steps=6), model=tiny)
    prox = train_local(state, train_data, TrainConfig(lr=3e-3, seed=0, max_steps=6, fedprox_mu=5.0), model=tiny)
    assert l2_norm(prox.update) < l2_norm(free.update)


def test_scaffold_returns_control_variates_and_applies_the_correction(
    tiny: NerModel, train_data: EncodedDataset
) -> None:
    state = tiny.state()
    cfg = TrainConfig(lr=1e-3, seed=0, max_steps=3)
    first = train_local(state, train_data, cfg, model=tiny, scaffold=ScaffoldControls({}, {}))
    assert first.control_delta is not None and first.local_control is not None
    trainable = {n for n, p in tiny.model.named_parameters() if p.requires_grad}
    assert set(first.control_delta) == trainable
    # round 0 from zero controls: c_i+ = (x - y_i) / (K lr) = -update / (K lr)
    key = "classifier.weight"
    assert torch.allclose(first.local_control[key], -first.update[key] / (3 * 1e-3), atol=1e-4)
    plain = train_local(state, train_data, cfg, model=tiny)
    assert torch.equal(plain.update[key], first.update[key])  # zero controls change nothing
    shifted = train_local(state, train_data, cfg, model=tiny, scaffold=ScaffoldControls({key: torch.ones(3, 64)}, {}))
    assert not torch.allclose(shifted.update[key], first.update[key])


def test_evaluate_reports_numbers_only(tiny: NerModel) -> None:
    test = read_conll(MINI / "test.tsv", limit=20)
    result = evaluate(tiny.state(), test, model=tiny, batch_size=8)
    metrics = result.metrics()
    assert set(metrics) == {"precision", "recall", "f1", "support", "loss"}
    assert all(isinstance(v, float) for v in metrics.values())
    assert len(result.predictions) == 20
    assert [len(p) for p in result.predictions] == [len(ex.tokens) for ex in test]


def test_bad_inputs_are_refused(tiny: NerModel) -> None:
    with pytest.raises(NerDataError):
        train_local(tiny.state(), [], TrainConfig(), model=tiny)
    with pytest.raises(ConfigError):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="does not fit"):
        tiny.load_state({"nope": torch.zeros(1)})
    with pytest.raises(ConfigError, match="not found"):
        load_ner_model("/nonexistent/model")
