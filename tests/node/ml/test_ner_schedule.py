"""Fine-tuning schedule: warm-up then linear decay, the head's own learning rate, early stopping on devel."""

from __future__ import annotations

import pytest
import torch

from fednode.errors import ConfigError
from node.ml.ner import TrainConfig, encode_for, load_ner_model, read_conll, train_local
from node.ml.ner.finetune import fine_tune
from node.ml.ner.schedule import linear_factor, linear_schedule, param_groups, warmup_steps
from tests.node.ner_support import MINI


def test_linear_factor_at_given_steps() -> None:
    # 10 steps, 2 of warm-up: 0.5, 1.0, then (10 - step) / 8 down to 1/8 at the last step, 0 after
    assert [linear_factor(s, 10, 2) for s in range(11)] == [
        0.5,
        1.0,
        1.0,
        0.875,
        0.75,
        0.625,
        0.5,
        0.375,
        0.25,
        0.125,
        0.0,
    ]
    assert linear_factor(0, 4, 0) == 1.0 and linear_factor(3, 4, 0) == 0.25
    assert warmup_steps(250, 0.1) == 25 and warmup_steps(5, 0.01) == 1 and warmup_steps(10, 0.0) == 0


def test_scheduler_drives_each_group_from_its_own_peak() -> None:
    enc = torch.nn.Linear(2, 2)
    head = torch.nn.Linear(2, 2)
    named = [("bert.dense.weight", enc.weight), ("bert.dense.bias", enc.bias), ("classifier.weight", head.weight)]
    groups = param_groups(named, lr=1e-4, head_lr=1e-3, weight_decay=0.01)
    by_lr = {(g["lr"], g["weight_decay"]): len(g["params"]) for g in groups}
    assert by_lr == {(1e-4, 0.01): 1, (1e-4, 0.0): 1, (1e-3, 0.01): 1}  # biases are not decayed
    opt = torch.optim.AdamW(groups, lr=1e-4)
    sched = linear_schedule(opt, total=4, warmup=2)
    seen = []
    for _ in range(4):
        seen.append(sorted(g["lr"] for g in opt.param_groups))
        opt.step()
        sched.step()
    assert seen[0] == pytest.approx([5e-5, 5e-5, 5e-4])
    assert seen[1] == pytest.approx([1e-4, 1e-4, 1e-3])
    assert seen[3] == pytest.approx([5e-5, 5e-5, 5e-4])


def test_train_config_refuses_unknown_options() -> None:
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(schedule="cosine")
    with pytest.raises(ConfigError, match="subword_labels"):
        TrainConfig(subword_labels="every")
    with pytest.raises(ConfigError):
        TrainConfig(head_lr=0.0)


def test_on_step_stops_training_early() -> None:
    model = load_ner_model("tiny", seed=0)
    data = encode_for(read_conll(MINI / "train.tsv"), model)
    seen: list[int] = []

    def stop_at_two(step: int) -> bool:
        seen.append(step)
        return step == 2

    result = train_local(model.state(), data, TrainConfig(lr=3e-3, max_steps=5), model=model, on_step=stop_at_two)
    assert result.num_steps == 2 and seen == [1, 2]


def test_fine_tune_keeps_the_best_devel_weights_and_stops_on_patience() -> None:
    model = load_ner_model("tiny", seed=0)
    train = encode_for(read_conll(MINI / "train.tsv"), model)
    devel = encode_for(read_conll(MINI / "devel.tsv"), model)
    config = TrainConfig(lr=3e-3, epochs=50, max_steps=40, schedule="linear", head_lr=1e-2)
    result = fine_tune(model, train, config, devel=devel, eval_every=2, patience=2)
    f1s = [f for _, f in result.history]
    assert result.best_devel_f1 == max(f1s)
    assert result.best_step == result.history[f1s.index(max(f1s))][0]
    if result.steps < 40:  # stopped: the last `patience` evaluations did not beat the best
        assert all(f <= max(f1s) for f in f1s[-2:]) and result.history[-1][0] == result.steps
    kept = model.state()
    assert all(torch.equal(kept[k], result.state[k]) for k in kept)
