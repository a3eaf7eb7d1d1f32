"""The CRF output layer: likelihood by hand, BIO-respecting Viterbi, gradients, state dict and aggregation."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from fednode.errors import ConfigError
from node.ml.aggregation import ClientUpdate, apply_update, make_aggregator
from node.ml.experiments.wire import WireBuffer, unpack
from node.ml.ner import TrainConfig, encode_for, evaluate, load_ner_model, read_conll, train_local
from node.ml.ner.crf import (
    FORBIDDEN,
    LinearChainCRF,
    bio_constraints,
    crf_loss,
    crf_of,
    pack_labelled,
    words_from_crf,
)
from node.ml.ner.labels import IGNORE_INDEX, LABEL2ID, LABELS
from tests.node.ner_support import MINI

O, B, I = (LABEL2ID[t] for t in ("O", "B-Disease", "I-Disease"))  # noqa: E741  # the tag's own letter


def _bio_crf() -> LinearChainCRF:
    return LinearChainCRF(len(LABELS), *bio_constraints())


def test_bio_constraints_forbid_i_after_o_and_at_the_start() -> None:
    allowed, start = bio_constraints()
    assert start.tolist() == [True, True, False]
    assert not allowed[O, I] and allowed[B, I] and allowed[I, I]
    assert allowed[O, B] and allowed[I, O] and allowed[B, B]
    two_types = ("O", "B-X", "I-X", "B-Y", "I-Y")
    allowed2, _ = bio_constraints(two_types)
    assert not allowed2[1, 4] and not allowed2[2, 4] and allowed2[3, 4]  # I-Y only after B-Y / I-Y


def test_log_likelihood_of_a_hand_computed_case() -> None:
    # all scores zero: the allowed paths of length 2 are O-O, O-B, B-O, B-B, B-I (5 of them), each equally
    # likely, so -log p = log 5 for any allowed path
    crf = _bio_crf()
    nll = crf.neg_log_likelihood(torch.zeros(1, 2, 3), torch.tensor([[B, I]]), torch.ones(1, 2, dtype=torch.bool))
    assert float(nll.detach()) == pytest.approx(math.log(5), abs=1e-5)
    # one transition score and one emission: score(B, I) = 1 + 2 = 3; the five paths score
    # O-O 0, O-B 0, B-O 0, B-B 0, B-I 3 -> log Z = log(4 + e^3)
    with torch.no_grad():
        crf.transitions[B, I] = 1.0
    emissions = torch.zeros(1, 2, 3)
    emissions[0, 1, I] = 2.0
    nll = crf.neg_log_likelihood(emissions, torch.tensor([[B, I]]), torch.ones(1, 2, dtype=torch.bool))
    assert float(nll.detach()) == pytest.approx(math.log(4 + math.exp(3)) - 3, abs=1e-5)


def test_likelihood_matches_brute_force_with_padding() -> None:
    torch.manual_seed(0)
    crf = LinearChainCRF(3)  # unconstrained: every path counts
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    tags = torch.tensor([[0, 1, 2, 0], [1, 2, IGNORE_INDEX, IGNORE_INDEX]])

    def score(e: torch.Tensor, path: tuple[int, ...]) -> float:
        s = crf.start_transitions[path[0]] + e[0, path[0]] + crf.end_transitions[path[-1]]
        for i in range(1, len(path)):
            s = s + crf.transitions[path[i - 1], path[i]] + e[i, path[i]]
        return float(s)

    nll = crf.neg_log_likelihood(emissions, tags, mask)
    best = crf.viterbi(emissions, mask)
    for row, n in ((0, 4), (1, 2)):
        paths = list(itertools.product(range(3), repeat=n))
        scores = torch.tensor([score(emissions[row], p) for p in paths])
        gold = tuple(tags[row, :n].tolist())
        assert float(nll[row]) == pytest.approx(
            float(torch.logsumexp(scores, 0)) - score(emissions[row], gold), abs=1e-4
        )
        assert tuple(best[row]) == paths[int(scores.argmax())]


def test_viterbi_never_breaks_bio_even_when_emissions_want_it() -> None:
    crf = _bio_crf()
    emissions = torch.zeros(1, 4, 3)
    emissions[0, 0, I] = 50.0  # I at the start
    emissions[0, 1, O] = 5.0
    emissions[0, 2, I] = 50.0  # I after O
    path = crf.viterbi(emissions, torch.ones(1, 4, dtype=torch.bool))[0]
    assert path[0] != I
    for prev, cur in itertools.pairwise(path):
        assert not (cur == I and prev == O)
    torch.manual_seed(1)
    for _ in range(20):  # random emissions: every decoded path is valid BIO
        e = torch.randn(3, 7, 3) * 5
        for p in crf.viterbi(e, torch.ones(3, 7, dtype=torch.bool)):
            assert p[0] != I and all(not (c == I and a == O) for a, c in itertools.pairwise(p))
    assert FORBIDDEN < -1000


def test_gradients_flow_to_emissions_and_transitions() -> None:
    crf = _bio_crf()
    logits = torch.randn(2, 6, 3, requires_grad=True)
    labels = torch.tensor([[IGNORE_INDEX, B, IGNORE_INDEX, I, O, IGNORE_INDEX], [IGNORE_INDEX, O, O, B, -100, -100]])
    loss = crf_loss(crf, logits, labels)
    loss.backward()  # type: ignore[no-untyped-call]
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0
    assert float(logits.grad[0, 0].abs().sum()) == 0  # an ignored position gets nothing
    for p in crf.parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0


def test_pack_labelled_moves_labelled_positions_to_the_front() -> None:
    labels = torch.tensor([[IGNORE_INDEX, 1, IGNORE_INDEX, 2], [IGNORE_INDEX, IGNORE_INDEX, 0, IGNORE_INDEX]])
    emissions = torch.arange(8, dtype=torch.float).reshape(2, 4, 1)
    packed, tags, mask = pack_labelled(emissions, labels)
    assert tags[0].tolist() == [1, 2] and mask.tolist() == [[True, True], [True, False]]
    assert packed[0, :, 0].tolist() == [1.0, 3.0] and packed[1, 0, 0] == 6.0


def test_words_from_crf_reads_first_pieces_and_tags_truncated_words_o() -> None:
    crf = _bio_crf()
    logits = torch.zeros(6, 3)
    logits[1, B] = logits[3, I] = 9.0  # word 0 -> B, word 1 (pieces 2, 3): first piece 2 decides
    logits[2, I] = 9.0
    word_ids = [None, 0, 1, 1, 2, None]
    assert words_from_crf(crf, logits, word_ids, 4) == ("B-Disease", "I-Disease", "O", "O")


def test_crf_weights_are_state_aggregated_and_carried_on_the_wire() -> None:
    model = load_ner_model("tiny+crf", seed=0)
    assert model.has_crf and model.spec == "tiny+crf"
    state = model.state()
    keys = {"crf.transitions", "crf.start_transitions", "crf.end_transitions"}
    assert keys <= set(state)
    assert "crf.transition_penalty" not in state  # the BIO rules are constants, not weights
    a = {k: torch.zeros_like(v) for k, v in state.items()}
    b = {k: torch.zeros_like(v) for k, v in state.items()}
    a["crf.transitions"] += 1.0
    b["crf.transitions"] += 3.0
    agg = make_aggregator("fedavg").aggregate([ClientUpdate("s1", a, 1), ClientUpdate("s2", b, 1)])
    merged = apply_update(state, agg.update)
    assert torch.allclose(merged["crf.transitions"], state["crf.transitions"] + 2.0)
    back = unpack(WireBuffer().pack(merged))
    assert torch.equal(back["crf.transitions"], merged["crf.transitions"])
    model.load_state(back)  # strict: the CRF keys fit
    plain = load_ner_model("tiny", seed=0)
    with pytest.raises(ConfigError):
        plain.load_state(state)  # a CRF state does not fit a softmax model


def test_training_with_crf_moves_the_crf_and_evaluates_with_viterbi() -> None:
    model = load_ner_model("tiny", seed=0, crf=True)
    data = encode_for(read_conll(MINI / "train.tsv"), model)
    start = model.state()
    result = train_local(start, data, TrainConfig(lr=3e-3, max_steps=3), model=model)
    assert float(result.update["crf.transitions"].abs().sum()) > 0
    scored = evaluate(apply_update(start, result.update), data, model=model)
    crf = crf_of(model.model)
    assert crf is not None
    for tags in scored.predictions:  # Viterbi output: valid BIO
        assert not tags or tags[0] != "I-Disease"
        assert all(not (b == "I-Disease" and a == "O") for a, b in itertools.pairwise(tags))


def test_dp_refuses_the_crf() -> None:
    from unittest.mock import MagicMock

    model = load_ner_model("tiny+crf", seed=0)
    data = encode_for(read_conll(MINI / "train.tsv", limit=4), model)
    with pytest.raises(ConfigError, match="CRF"):
        train_local(model.state(), data, TrainConfig(max_steps=1), model=model, dp=MagicMock())
