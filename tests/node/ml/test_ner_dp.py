"""DP-SGD with Opacus: ε is spent, the accountant continues across calls through the ledger, the budget holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from fednode.errors import BudgetExceededError
from node.ml.ner import (
    DpRun,
    EncodedDataset,
    MemoryAccountantStore,
    NerModel,
    TrainConfig,
    encode_for,
    epsilon_of,
    load_ner_model,
    read_conll,
    train_local,
)
from policies.contracts import DpParams
from tests.node.ner_support import MINI

PARAMS = DpParams(noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=20.0, delta=1e-5, accountant="rdp")


@pytest.fixture(scope="module")
def tiny() -> Iterator[NerModel]:
    yield load_ner_model("tiny", seed=0)


@pytest.fixture(scope="module")
def data(tiny: NerModel) -> EncodedDataset:
    return encode_for(read_conll(MINI / "train.tsv", limit=96), tiny)


def test_dp_spends_epsilon_and_continues_the_accountant_across_calls(tiny: NerModel, data: EncodedDataset) -> None:
    store = MemoryAccountantStore()
    run = DpRun(PARAMS, store, dataset="ncbi", job_id="job-1")
    state = tiny.state()
    first = train_local(state, data, TrainConfig(lr=1e-3, seed=0, batch_size=16), model=tiny, dp=run)
    assert first.epsilon is not None and first.epsilon > 0
    assert store.entries["ncbi"] == [(1.0, 16 / 96, 6)]
    second = train_local(state, data, TrainConfig(lr=1e-3, seed=1, batch_size=16), model=tiny, dp=run)
    assert second.epsilon is not None and second.epsilon > first.epsilon  # the budget did not reset
    assert second.epsilon == pytest.approx(epsilon_of("rdp", [(1.0, 16 / 96, 12)], 1e-5), rel=1e-6)
    # a new job on the same dataset starts from everything spent before
    later = DpRun(PARAMS, store, dataset="ncbi", job_id="job-2")
    third = train_local(state, data, TrainConfig(lr=1e-3, seed=2, max_steps=2), model=tiny, dp=later)
    assert third.epsilon is not None and third.epsilon > second.epsilon
    assert store.jobs == ["job-1", "job-1", "job-2"]


def test_dp_freezes_embeddings_for_the_call_only(tiny: NerModel, data: EncodedDataset) -> None:
    run = DpRun(PARAMS, MemoryAccountantStore(), dataset="d", job_id="j")
    result = train_local(tiny.state(), data, TrainConfig(lr=1e-3, max_steps=2), model=tiny, dp=run)
    assert torch.count_nonzero(result.update["bert.embeddings.word_embeddings.weight"]) == 0
    assert torch.count_nonzero(result.update["classifier.weight"]) > 0
    assert all(p.requires_grad for p in tiny.model.parameters())
    assert not any(hasattr(p, "grad_sample") and p.grad_sample is not None for p in tiny.model.parameters())


def test_budget_is_checked_before_the_first_step(tiny: NerModel, data: EncodedDataset) -> None:
    store = MemoryAccountantStore()
    tight = DpParams(noise_multiplier=0.5, max_grad_norm=1.0, target_epsilon=0.5, delta=1e-5, accountant="rdp")
    with pytest.raises(BudgetExceededError, match="over the target"):
        train_local(tiny.state(), data, TrainConfig(), model=tiny, dp=DpRun(tight, store, "d", "j"))
    assert store.entries == {}  # nothing was spent
    assert all(not m._forward_hooks for m in tiny.model.modules())  # and no Opacus hook was left behind


def test_prv_accountant_is_supported(tiny: NerModel, data: EncodedDataset) -> None:
    prv = DpParams(noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=20.0, delta=1e-5, accountant="prv")
    run = DpRun(prv, MemoryAccountantStore(), dataset="d", job_id="j")
    result = train_local(tiny.state(), data, TrainConfig(lr=1e-3, max_steps=3), model=tiny, dp=run)
    assert result.epsilon is not None and 0 < result.epsilon < 20
