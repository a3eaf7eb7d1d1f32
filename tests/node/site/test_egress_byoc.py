"""The release step on NVFlare's own result objects (node/site/egress/byoc.py): headers, DXO data and meta."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pytest
import torch
from nvflare.apis.dxo import DXO, DataKind, MetaKey
from nvflare.apis.shareable import Shareable
from nvflare.app_common.app_constant import AlgorithmConstants, AppConstants

from fednode.errors import BudgetExceededError, EgressBlockedError
from node.site.egress.byoc import ReleaseConfig, fingerprint, release_result
from node.site.release import ReleaseBounds, SiteDp, on_grid, secure_generator

BOUNDS = ReleaseBounds(rounds=5, local_records=300, max_steps=10_000)
GLOBAL = {"w": np.full((4, 3), 0.5, dtype=np.float32), "b": np.zeros(3, dtype=np.float32)}


def _result(
    kind: str = DataKind.WEIGHT_DIFF, data: Mapping[str, object] | None = None, meta: Mapping[str, object] = {}
) -> Shareable:
    if data is None:
        data = {"w": np.full((4, 3), 0.0123456, dtype=np.float32), "b": np.full(3, -1e-3, dtype=np.float32)}
    s = DXO(kind, dict(data), {MetaKey.NUM_STEPS_CURRENT_ROUND: 12, **meta}).to_shareable()
    s.set_header(AppConstants.CURRENT_ROUND, 2)
    s.set_header(AppConstants.NUM_ROUNDS, 5)
    return s


def _release(result: Shareable, config: ReleaseConfig | None = None, charge: object = None) -> str:
    return release_result(
        result,
        config=config or ReleaseConfig(),
        bounds=BOUNDS,
        reference=GLOBAL,
        charge=charge,  # type: ignore[arg-type]
        rng=secure_generator(),
    )


def test_a_diff_is_rounded_and_its_meta_bounded() -> None:
    result = _result(meta={MetaKey.INITIAL_METRICS: {"f1": 0.876543}, "val_loss": 0.45678})
    assert "rounded" in _release(result)
    dxo = result["DXO"]
    assert all(on_grid(v, 7) for v in dxo["data"].values())
    assert np.allclose(dxo["data"]["w"], 0.0123456, rtol=2.0**-7)
    assert dxo["meta"][MetaKey.INITIAL_METRICS] == {"f1": 0.877}
    assert dxo["meta"]["val_loss"] == 0.457
    assert dxo["meta"][MetaKey.NUM_STEPS_CURRENT_ROUND] == 12


def test_full_weights_are_rounded_against_the_global_model() -> None:
    data = {"w": GLOBAL["w"] + np.float32(1e-4), "b": GLOBAL["b"].copy(), "ids": np.arange(3)}
    reference: dict[str, np.ndarray] = {**GLOBAL, "ids": np.arange(3)}
    result = _result(DataKind.WEIGHTS, data)
    release_result(
        result, config=ReleaseConfig(), bounds=BOUNDS, reference=reference, charge=None, rng=secure_generator()
    )
    out = result["DXO"]["data"]
    assert np.allclose(out["w"] - GLOBAL["w"], 1e-4, rtol=2.0**-6)
    assert np.array_equal(out["b"], GLOBAL["b"]) and np.array_equal(out["ids"], np.arange(3))


def test_full_weights_without_a_kept_global_model_are_blocked() -> None:
    with pytest.raises(EgressBlockedError, match="no global model"):
        release_result(
            _result(DataKind.WEIGHTS, dict(GLOBAL)),
            config=ReleaseConfig(),
            bounds=BOUNDS,
            reference=None,
            charge=None,
            rng=secure_generator(),
        )


def test_a_metrics_result_is_rounded() -> None:
    result = DXO(DataKind.METRICS, {"val_f1": 0.91234, "num_examples": 250}).to_shareable()
    _release(result)
    assert result["DXO"]["data"] == {"val_f1": 0.912, "num_examples": 250}


@pytest.mark.parametrize(
    ("header", "value"),
    [(AppConstants.CURRENT_ROUND, 6), (AppConstants.NUM_ROUNDS, 2**40), (AppConstants.START_ROUND, -1)],
)
def test_round_headers_past_the_approved_rounds_are_blocked(header: str, value: int) -> None:
    result = _result()
    result.set_header(header, value)
    before = fingerprint(result)
    with pytest.raises(EgressBlockedError, match=header):
        _release(result)
    assert fingerprint(result) == before  # nothing changed when refused


@pytest.mark.parametrize(
    "meta",
    [
        {MetaKey.NUM_STEPS_CURRENT_ROUND: 10_001},
        {MetaKey.CURRENT_ROUND: 9},
        {MetaKey.TOTAL_ROUNDS: 2**33},
        {MetaKey.INITIAL_METRICS: {"f1": math.nan}},
        {MetaKey.INITIAL_METRICS: {"loss": -1.0}},
        {"val_f1": 1e308},
        {"num_examples": 301},  # more than the site's records
    ],
)
def test_meta_outside_the_rules_is_blocked(meta: dict[str, object]) -> None:
    with pytest.raises(EgressBlockedError):
        _release(_result(meta=meta))


def test_non_finite_model_values_are_blocked() -> None:
    data = {"w": np.full((4, 3), np.inf, dtype=np.float32), "b": np.zeros(3, dtype=np.float32)}
    with pytest.raises(EgressBlockedError, match="not finite"):
        _release(_result(data=data))


def test_scaffold_controls_are_rounded_and_noised_with_the_update() -> None:
    controls = {"w": np.full((4, 3), 0.3, dtype=np.float32), "b": np.full(3, 0.3, dtype=np.float32)}
    charged: list[int] = []

    def charge() -> float:
        charged.append(1)
        return 1.5

    config = ReleaseConfig(dp_required=True, site_dp=SiteDp(1.0, 1e-9), max_epsilon_per_job=3.0)
    summary = _release(_result(meta={AlgorithmConstants.SCAFFOLD_CTRL_DIFF: controls}), config, charge)
    assert charged == [1] and "site DP" in summary and "1.5" in summary


def test_scaffold_controls_beside_metrics_only_are_blocked() -> None:
    controls = {"w": np.full((4, 3), 0.3, dtype=np.float32)}
    metrics = DXO(DataKind.METRICS, {"f1": 0.5}, {AlgorithmConstants.SCAFFOLD_CTRL_DIFF: controls}).to_shareable()
    with pytest.raises(EgressBlockedError, match="without a model update"):
        _release(metrics)


def test_site_dp_is_charged_before_release_and_a_refusal_changes_nothing() -> None:
    def refuse() -> float:
        raise BudgetExceededError("over budget")

    config = ReleaseConfig(dp_required=True, site_dp=SiteDp(1.0, 2.0), max_epsilon_per_job=3.0)
    result = _result()
    before = fingerprint(result)
    with pytest.raises(BudgetExceededError):
        _release(result, config, refuse)
    assert fingerprint(result) == before
    with pytest.raises(EgressBlockedError, match="no privacy ledger"):
        _release(_result(), config, None)


def test_dp_required_without_site_noise_blocks_model_results() -> None:
    with pytest.raises(EgressBlockedError, match="sets no site noise"):
        _release(_result(), ReleaseConfig(dp_required=True))
    metrics = DXO(DataKind.METRICS, {"f1": 0.5}).to_shareable()
    _release(metrics, ReleaseConfig(dp_required=True))  # metrics carry no update


def test_config_from_privacy_json_arguments() -> None:
    assert ReleaseConfig.from_args(None) == ReleaseConfig()
    config = ReleaseConfig.from_args(
        {
            "mantissa_bits": 10,
            "dp_required": True,
            "site_dp": {"clip_norm": 1.0, "noise_multiplier": 8.0, "max_epsilon_per_job": 3.0},
        }
    )
    assert config.site_dp == SiteDp(1.0, 8.0) and config.max_epsilon_per_job == 3.0 and config.mantissa_bits == 10
    for bad in (
        {"mantissa_bits": 0},
        {"mantissa_bits": True},
        {"dp_required": "yes"},
        {"other": 1},
        {"site_dp": {"clip_norm": 1.0}},
        {"site_dp": {"clip_norm": 1.0, "noise_multiplier": 0.0, "max_epsilon_per_job": 3.0}},
        {"site_dp": {"clip_norm": 1.0, "noise_multiplier": 1.0, "max_epsilon_per_job": -3.0}},
    ):
        with pytest.raises(ValueError, match=r"release|SiteDp"):
            ReleaseConfig.from_args(bad)


def test_fingerprint_sees_any_change() -> None:
    result = _result(data={"w": torch.zeros(4, 3), "b": np.zeros(3, dtype=np.float32)})
    before = fingerprint(result)
    assert fingerprint(result) == before
    result["DXO"]["data"]["w"][0, 0] = 1e-30
    assert fingerprint(result) != before
    result2 = _result()
    before2 = fingerprint(result2)
    result2.set_header(AppConstants.CURRENT_ROUND, 3)
    assert fingerprint(result2) != before2
