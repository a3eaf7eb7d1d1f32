"""Aggregators: correctness on hand examples, robustness to one poisoned site, input validation, quorum."""

from __future__ import annotations

import pytest
import torch

from fednode.errors import AggregationInputError, ConfigError, QuorumNotMetError
from node.ml.aggregation import (
    ClientUpdate,
    CoordinateMedian,
    FedAvg,
    FLTrust,
    GeometricMedian,
    NormClipping,
    Quorum,
    Scaffold,
    TrimmedMean,
    apply_update,
    make_aggregator,
)
from tests.node.ner_support import distance, honest_and_poisoned


def _u(site: str, values: list[float], n: int = 1) -> ClientUpdate:
    return ClientUpdate(site, {"w": torch.tensor(values)}, n)


def test_fedavg_weights_by_example_count() -> None:
    result = FedAvg().aggregate([_u("a", [1.0, 0.0], 1), _u("b", [4.0, 3.0], 3)])
    assert torch.allclose(result.update["w"], torch.tensor([3.25, 2.25]))
    assert result.weights == pytest.approx({"a": 0.25, "b": 0.75})


def test_unweighted_fedavg_and_fedprox_name() -> None:
    result = FedAvg(weighted=False).aggregate([_u("a", [1.0], 1), _u("b", [3.0], 3)])
    assert float(result.update["w"]) == pytest.approx(2.0)
    assert make_aggregator("fedprox").name == "fedprox"


def test_median_and_trimmed_mean_on_hand_examples() -> None:
    ups = [_u("a", [1.0, 10.0]), _u("b", [2.0, 20.0]), _u("c", [3.0, 30.0]), _u("d", [100.0, -100.0])]
    assert torch.allclose(CoordinateMedian().aggregate(ups).update["w"], torch.tensor([2.5, 15.0]))
    trimmed = TrimmedMean(trim_ratio=0.25).aggregate(ups)
    assert torch.allclose(trimmed.update["w"], torch.tensor([2.5, 15.0]))
    assert trimmed.info["trimmed"] == 1.0


def test_geometric_median_of_collinear_points_is_the_middle_one() -> None:
    ups = [_u("a", [0.0, 0.0]), _u("b", [1.0, 0.0]), _u("c", [10.0, 0.0])]
    result = GeometricMedian(max_iter=500, tol=1e-10).aggregate(ups)
    assert torch.allclose(result.update["w"], torch.tensor([1.0, 0.0]), atol=1e-3)


@pytest.mark.parametrize("attack", ["scale", "flip", "noise"])
@pytest.mark.parametrize("rule", ["median", "trimmed_mean", "geometric_median", "norm_clipping", "fltrust"])
def test_robust_rule_resists_one_poisoned_site(rule: str, attack: str) -> None:
    updates, honest_mean = honest_and_poisoned(attack=attack)
    options = {"root_update": lambda: honest_mean} if rule == "fltrust" else {}
    robust = make_aggregator(rule, **options).aggregate(updates).update
    plain = FedAvg().aggregate(updates).update
    scale = distance(honest_mean, {k: torch.zeros_like(v) for k, v in honest_mean.items()})
    assert distance(plain, honest_mean) > 5 * scale  # FedAvg is dragged far away ...
    if rule == "norm_clipping" and attack != "scale":
        # clipping bounds the attacker's pull to one clipped update's worth; it does not remove it
        assert distance(robust, honest_mean) < 0.6 * scale
    else:
        assert distance(robust, honest_mean) < 0.35 * scale  # ... the robust rule stays near the honest mean


def test_fltrust_gives_a_sign_flipped_site_zero_trust_and_normalises_magnitude() -> None:
    updates, honest_mean = honest_and_poisoned(attack="flip")
    result = FLTrust(root_update=lambda: honest_mean).aggregate(updates)
    assert result.weights["site-evil"] == 0.0
    assert result.info["trust.site-evil"] == 0.0
    root_norm = distance(honest_mean, {k: torch.zeros_like(v) for k, v in honest_mean.items()})
    assert result.info["root_norm"] == pytest.approx(root_norm, rel=1e-4)


def test_fltrust_with_no_agreeing_site_leaves_the_model_unchanged() -> None:
    ups = [_u("a", [1.0, 1.0]), _u("b", [2.0, 2.0])]
    result = FLTrust(root_update=lambda: {"w": torch.tensor([-1.0, -1.0])}).aggregate(ups)
    assert torch.equal(result.update["w"], torch.zeros(2))


def test_norm_clipping_with_a_fixed_threshold() -> None:
    result = NormClipping(max_norm=1.0).aggregate([_u("a", [3.0, 4.0]), _u("b", [0.3, 0.4])])
    assert torch.allclose(result.update["w"], torch.tensor([0.45, 0.6]))
    assert result.info["clipped_sites"] == 1.0


def test_scaffold_server_updates_global_control() -> None:
    agg = Scaffold(total_sites=4)
    ups = [
        ClientUpdate("a", {"w": torch.tensor([1.0])}, 1, control_delta={"w": torch.tensor([2.0])}),
        ClientUpdate("b", {"w": torch.tensor([3.0])}, 1, control_delta={"w": torch.tensor([4.0])}),
    ]
    result = agg.aggregate(ups)
    assert float(result.update["w"]) == pytest.approx(2.0)
    assert float(agg.global_control["w"]) == pytest.approx(0.5 * 3.0)  # |S|/N * mean(Δc)
    agg.aggregate(ups)
    assert float(agg.global_control["w"]) == pytest.approx(3.0)
    with pytest.raises(AggregationInputError, match="control-variate"):
        agg.aggregate([_u("a", [1.0])])


def test_non_finite_update_is_dropped_and_named() -> None:
    result = FedAvg().aggregate([_u("a", [1.0]), _u("b", [float("nan")]), _u("c", [3.0])])
    assert result.rejected == ("b",)
    assert float(result.update["w"]) == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_fedavg_drops_a_non_finite_site_even_with_zero_weight(bad: float) -> None:
    # the weighted sum is checked instead of every update; a zero-weight site must still be caught (0 x inf = NaN)
    result = FedAvg().aggregate([_u("a", [1.0, 2.0], 2), _u("b", [bad, 0.0], 0), _u("c", [3.0, 4.0], 2)])
    assert result.rejected == ("b",)
    assert result.update["w"].tolist() == pytest.approx([2.0, 3.0])
    assert set(result.weights) == {"a", "c"}


def test_fedavg_with_every_site_finite_rejects_none_and_matches_the_mean() -> None:
    gen = torch.Generator().manual_seed(3)
    ups = [
        ClientUpdate(f"s{i}", {"w": torch.randn(50, generator=gen), "b": torch.randn(3, generator=gen)}, i + 1)
        for i in range(5)
    ]
    result = FedAvg().aggregate(ups)
    assert result.rejected == ()
    total = sum(u.num_examples for u in ups)
    for key in ("w", "b"):
        expected = sum(u.update[key] * u.num_examples for u in ups) / total
        assert torch.allclose(result.update[key], expected, atol=1e-6)


def test_mismatched_shapes_or_keys_are_refused() -> None:
    with pytest.raises(AggregationInputError, match="shape"):
        FedAvg().aggregate([_u("a", [1.0, 2.0]), _u("b", [1.0])])
    with pytest.raises(AggregationInputError, match="keys"):
        FedAvg().aggregate([_u("a", [1.0]), ClientUpdate("b", {"v": torch.tensor([1.0])}, 1)])
    with pytest.raises(AggregationInputError, match="non-float"):
        FedAvg().aggregate([ClientUpdate("a", {"w": torch.tensor([1])}, 1)])
    with pytest.raises(AggregationInputError):
        FedAvg().aggregate([])


def test_quorum_aggregates_what_arrived_or_refuses() -> None:
    quorum = Quorum(FedAvg(), min_clients=2, expected_sites=("a", "b", "c"))
    result = quorum.aggregate([_u("a", [1.0]), _u("c", [3.0])])
    assert float(result.update["w"]) == pytest.approx(2.0)
    assert (result.info["arrived"], result.info["missing"]) == (2.0, 1.0)
    with pytest.raises(QuorumNotMetError) as err:
        quorum.aggregate([_u("a", [1.0])])
    assert (err.value.arrived, err.value.required) == (1, 2)
    with pytest.raises(AggregationInputError, match="more than one"):
        quorum.aggregate([_u("a", [1.0]), _u("a", [2.0])])
    assert isinstance(make_aggregator("median", min_clients=3), Quorum)


def test_factory_rejects_unknown_names_and_options() -> None:
    with pytest.raises(ConfigError, match="unknown aggregator"):
        make_aggregator("krum")
    with pytest.raises(ConfigError, match="bad options"):
        make_aggregator("median", trim_ratio=0.1)
    with pytest.raises(ConfigError):
        TrimmedMean(trim_ratio=0.5)


def test_apply_update_adds_float_entries_and_copies_the_rest() -> None:
    state = {"w": torch.tensor([1.0, 2.0]), "ids": torch.tensor([0, 1])}
    new = apply_update(state, {"w": torch.tensor([0.5, -1.0])})
    assert torch.allclose(new["w"], torch.tensor([1.5, 1.0]))
    assert torch.equal(new["ids"], state["ids"])
    assert new["ids"] is not state["ids"]
