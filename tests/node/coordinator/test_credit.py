"""The coordinator's credit record on real tensors: a toy model ``w`` that the honest sites pull towards a target,
a loss that measures the distance to it, a flaky site that drops every other round and a poisoning site that
sends a sign-flipped, ten-times update."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fednode.errors import ConfigError
from node.coordinator.credit import (
    LATE,
    MISSED,
    ON_TIME,
    REFUSED,
    REJECTED,
    CreditConfig,
    CreditKeeper,
    CreditStore,
    contribution_part,
    leave_one_out,
    norm_part,
    summarize,
)
from node.ml.aggregation import AggregationResult, ClientUpdate, FedAvg, FLTrust, Quorum, apply_update, make_aggregator
from node.ml.aggregation._types import Aggregator, StateDict

HONEST = ("site-1", "site-2", "site-3")
FLAKY, EVIL = "site-flaky", "site-evil"
SITES = (*HONEST, FLAKY, EVIL)
TARGET = torch.linspace(-1.0, 1.0, 16)


def loss(state: StateDict) -> float:
    return float(((state["w"] - TARGET) ** 2).mean())


def honest_update(state: StateDict, seed: int) -> StateDict:
    noise = torch.randn(16, generator=torch.Generator().manual_seed(seed)) * 0.02
    return {"w": 0.3 * (TARGET - state["w"]) + noise}


def one_round(
    keeper: CreditKeeper, aggregator: Aggregator, state: StateDict, rnd: int, *, evil_poisons: bool = True
) -> tuple[StateDict, list[ClientUpdate], AggregationResult]:
    """Every site is asked; the flaky one answers on even rounds only; the evil one flips and scales an honest
    update. Returns the new state, the updates aggregated and the outcome."""
    updates = [ClientUpdate(s, honest_update(state, 100 * rnd + i), 100) for i, s in enumerate(HONEST)]
    if rnd % 2 == 0:
        updates.append(ClientUpdate(FLAKY, honest_update(state, 100 * rnd + 7), 100))
    evil = honest_update(state, 100 * rnd + 9)
    updates.append(ClientUpdate(EVIL, {"w": -10.0 * evil["w"]} if evil_poisons else evil, 100))
    kept = keeper.before_aggregate(rnd, SITES, [u.site for u in updates], updates, min_responses=len(updates))
    outcome = aggregator.aggregate(kept)
    keeper.after_aggregate(aggregator, kept, outcome, state)
    return apply_update(state, outcome.update), kept, outcome


def run(keeper: CreditKeeper, rounds: int = 6, aggregator: Aggregator | None = None) -> StateDict:
    aggregator = aggregator or Quorum(FedAvg(), 1)
    state: StateDict = {"w": torch.zeros(16)}
    for rnd in range(rounds):
        state, _, _ = one_round(keeper, aggregator, state, rnd)
    return state


def test_a_flaky_and_a_poisoning_site_end_lowest_and_honest_sites_keep_theirs(tmp_path: Path) -> None:
    store = CreditStore(tmp_path / "credit.db")
    keeper = CreditKeeper(CreditConfig(), store, job_id="job-1", study="s", loss_fn=loss)
    run(keeper)
    credit = store.credit()
    scores = {s: c.score for s, c in credit.items()}
    assert all(scores[s] > 0.9 for s in HONEST), scores
    assert 0.4 < scores[FLAKY] < 0.6  # half its rounds missed
    assert scores[EVIL] < 0.05  # norm ten times the others' and the model is better without it
    assert max(scores[FLAKY], scores[EVIL]) < min(scores[s] for s in HONEST)
    flaky, evil = credit[FLAKY], credit[EVIL]
    assert (flaky.asked, flaky.on_time, flaky.missed) == (6, 3, 3)
    assert evil.norm_ratio is not None and evil.norm_ratio > 5 and evil.loo is not None and evil.loo < 0
    assert all((credit[s].loo or 0.0) > 0 for s in HONEST)  # leaving an honest site out hurts
    assert keeper.study_figures()[EVIL]["score"] == pytest.approx(scores[EVIL], abs=1e-6)
    line = keeper.round_line()
    assert line[FLAKY]["status"] == MISSED and line[EVIL]["score"] < 0.05 and line["_loo"]["evaluations"] == 5


def test_the_exclude_policy_takes_the_poisoners_weight_out_of_the_aggregate() -> None:
    keeper = CreditKeeper(CreditConfig(min_score=0.5, action="exclude"), loss_fn=loss)
    aggregator = Quorum(FedAvg(), 1)
    state: StateDict = {"w": torch.zeros(16)}
    for rnd in range(4):
        new_state, kept, outcome = one_round(keeper, aggregator, state, rnd)
        assert EVIL not in {u.site for u in kept} and EVIL not in outcome.weights
        honest_mean = FedAvg().aggregate(kept).update["w"]
        assert torch.allclose(new_state["w"] - state["w"], honest_mean)
        assert keeper.round_line()[EVIL]["action"] == "exclude"
        assert FLAKY in keeper.round_line() and "action" not in keeper.round_line()[FLAKY]  # 2/3 or more: kept
        state = new_state
    assert loss(state) < 0.2 * loss({"w": torch.zeros(16)})  # the model still learns without it


def test_without_the_policy_the_poisoner_drags_the_model_away() -> None:
    keeper = CreditKeeper(CreditConfig(), loss_fn=loss)
    state = run(keeper, rounds=4)
    assert loss(state) > loss({"w": torch.zeros(16)})


def test_the_downweight_policy_scales_the_poisoners_example_weight_by_its_score() -> None:
    keeper = CreditKeeper(CreditConfig(min_score=0.5, action="downweight"), loss_fn=loss)
    _, _, outcome = one_round(keeper, Quorum(FedAvg(), 1), {"w": torch.zeros(16)}, 0)
    weights = outcome.weights
    # round 0: its norm part alone (0.3) is its score; the four others keep their full weight
    assert weights[EVIL] == pytest.approx(0.3 / 4.3, rel=0.05)
    assert weights["site-1"] == pytest.approx(1 / 4.3, rel=0.05)
    assert keeper.round_line()[EVIL]["action"] == "downweight"


def test_exclusion_never_breaks_the_quorum() -> None:
    keeper = CreditKeeper(CreditConfig(min_score=0.99, action="exclude"), quorum=2)
    updates = [ClientUpdate("a", {"w": torch.ones(4)}, 1), ClientUpdate("b", {"w": -30 * torch.ones(4)}, 1)]
    kept = keeper.before_aggregate(0, ("a", "b"), ("a", "b"), updates, min_responses=2)
    assert [u.site for u in kept] == ["a", "b"]


def test_late_refused_rejected_and_missed_sites_are_told_apart() -> None:
    keeper = CreditKeeper(CreditConfig(loo=False))
    keeper.site_refused("d")  # its site sent an error reply (the egress guard blocked it, say)
    updates = [ClientUpdate(s, {"w": torch.ones(4)}, 1) for s in ("b", "a", "c")]
    kept = keeper.before_aggregate(
        0, ("a", "b", "c", "d", "e", "f"), ("b", "f", "a", "c"), updates, min_responses=2, rejected=("f",)
    )
    outcome = FedAvg().aggregate(kept)
    keeper.after_aggregate(FedAvg(), kept, outcome, {"w": torch.zeros(4)})
    status = {s: v["status"] for s, v in keeper.round_line().items()}
    assert status == {"a": LATE, "b": ON_TIME, "c": LATE, "d": REFUSED, "e": MISSED, "f": REJECTED}
    credit = summarize("c", keeper._rows[2:3])
    assert (credit.late, credit.attendance) == (1, 0.5)


def test_the_record_outlives_a_study_and_judges_the_next_one(tmp_path: Path) -> None:
    config = CreditConfig(min_score=0.5, action="exclude")
    run(CreditKeeper(CreditConfig(), CreditStore(tmp_path / "credit.db"), job_id="job-1", loss_fn=loss), rounds=3)
    keeper = CreditKeeper(config, CreditStore(tmp_path / "credit.db"), job_id="job-2", loss_fn=loss)
    # in the second study the poisoner behaves, but its record still says what it did
    _, kept, _ = one_round(keeper, Quorum(FedAvg(), 1), {"w": torch.zeros(16)}, 0, evil_poisons=False)
    assert EVIL not in {u.site for u in kept}
    credit = CreditStore(tmp_path / "credit.db", readonly=True).credit()
    assert credit[EVIL].studies == 2 and credit[EVIL].excluded == 1
    assert set(CreditStore(tmp_path / "credit.db").credit(job_id="job-2")) == set(SITES)


def test_fltrusts_leave_one_out_is_its_aggregate_over_the_others() -> None:
    g0 = {"w": 0.3 * TARGET}
    fltrust = FLTrust(root_update=lambda: g0)
    updates = [ClientUpdate(s, honest_update({"w": torch.zeros(16)}, i), 100) for i, s in enumerate(HONEST)]
    updates.append(ClientUpdate(EVIL, {"w": -10 * updates[0].update["w"]}, 100))
    outcome = fltrust.aggregate(updates)
    without = leave_one_out(Quorum(fltrust, 1), updates, outcome)
    for u in updates:
        again = fltrust.aggregate([o for o in updates if o.site != u.site]).update
        assert torch.allclose(without[u.site]["w"], again["w"], atol=1e-6), u.site
    median = make_aggregator("median")
    without = leave_one_out(median, updates, median.aggregate(updates))
    assert torch.equal(without[EVIL]["w"], median.aggregate(updates[:3]).update["w"])


def test_the_parts_of_the_formula() -> None:
    assert norm_part(1.0, 3.0) == 1.0 and norm_part(2.9, 3.0) == 1.0
    assert norm_part(10.0, 3.0) == pytest.approx(0.3) and norm_part(0.1, 3.0) == pytest.approx(0.3)
    assert norm_part(0.0, 3.0) == 0.0 and norm_part(float("inf"), 3.0) == 0.0
    assert contribution_part(0.01, 1.0, 0.05) == 1.0
    assert contribution_part(-0.05, 1.0, 0.05) == pytest.approx(0.3679, abs=1e-4)


@pytest.mark.parametrize(
    ("args", "algorithm", "says"),
    [
        ({"min_scor": 0.5}, "fedavg", "unknown settings"),
        ({"min_score": 0.5, "action": "ban"}, "fedavg", "credit.action"),
        ({"min_score": 1.5}, "fedavg", "between 0 and 1"),
        ({"min_score": 0.5}, "median", "use exclude"),
        ({"loo_size": 0}, "fedavg", "at least 1"),
        ({"min_score": "high"}, "fedavg", "credit:"),
    ],
)
def test_a_bad_credit_setting_is_refused(args: dict[str, object], algorithm: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        CreditConfig.from_args(args, algorithm=algorithm)
    assert CreditConfig.from_args({"min_score": 0.5, "action": "exclude"}, algorithm="median").min_score == 0.5


def test_a_read_only_store_creates_nothing(tmp_path: Path) -> None:
    from fednode.errors import BadInputError

    with pytest.raises(BadInputError):
        CreditStore(tmp_path / "credit.db", readonly=True)
    assert not (tmp_path / "credit.db").exists()
    assert ON_TIME == "on_time"


def test_securely_aggregated_rounds_record_attendance_only() -> None:
    keeper = CreditKeeper(CreditConfig(min_score=0.9, action="exclude"), loss_fn=loss)
    updates = [ClientUpdate(s, {}, 10) for s in ("a", "b")]  # masked: the controller sees no clear update
    kept = keeper.before_aggregate(0, ("a", "b", "c"), ("a", "b"), updates, min_responses=2)
    assert kept == updates
    outcome = AggregationResult({"w": torch.zeros(16)}, {"a": 0.5, "b": 0.5})
    keeper.after_aggregate(FedAvg(), kept, outcome, {"w": torch.zeros(16)})
    line = keeper.round_line()
    assert line["c"]["status"] == MISSED and line["a"]["status"] == ON_TIME
    assert "norm_ratio" not in line["a"] and "loo" not in line["a"] and "_loo" not in line


def test_a_study_carries_its_credit_policy_to_the_controller() -> None:
    from node.coordinator.study import StudySpec, server_config

    spec = StudySpec(name="s", sites=("a", "b"), credit={"min_score": 0.4, "action": "exclude"})
    assert server_config(spec)["workflows"][0]["args"]["credit"] == {"min_score": 0.4, "action": "exclude"}
    assert "credit" not in server_config(StudySpec(name="s", sites=("a",)))["workflows"][0]["args"]
    with pytest.raises(ConfigError, match="use exclude"):
        StudySpec(name="s", sites=("a", "b"), algorithm="median", credit={"min_score": 0.4})


def test_a_weighted_means_leave_one_out_is_the_mean_of_the_others() -> None:
    updates = [
        ClientUpdate(s, honest_update({"w": torch.zeros(16)}, i), 10 * (i + 1), control_delta={"w": torch.ones(16)})
        for i, s in enumerate(SITES)
    ]
    fedavg = FedAvg()
    without = leave_one_out(Quorum(fedavg, 1), updates, fedavg.aggregate(updates))
    scaffold = make_aggregator("scaffold", total_sites=5, server_lr=0.5)
    without_sc = leave_one_out(scaffold, updates, scaffold.aggregate(updates))
    for u in updates:
        again = FedAvg().aggregate([o for o in updates if o.site != u.site]).update["w"]
        assert torch.allclose(without[u.site]["w"], again, atol=1e-6), u.site
        assert torch.allclose(without_sc[u.site]["w"], 0.5 * again, atol=1e-6), u.site
