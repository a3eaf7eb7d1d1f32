"""What a BYOC result may carry when it leaves: reduced precision, bounded numbers, the site's own DP
(node/site/release.py, pure math)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fednode.errors import BudgetExceededError, EgressBlockedError
from node.site.release import (
    MetricKind,
    ReleaseBounds,
    SiteAccountant,
    SiteDp,
    bounded_int,
    metric_kind,
    on_grid,
    release_metric,
    release_metrics,
    release_update,
    released_count,
    secure_generator,
    stochastic_round,
)
from policies.audit import AuditLog
from policies.contracts import DpParams
from policies.ledger import PrivacyLedger, epsilon_of
from policies.state import StateStore
from tests.policies.statekit import Site, make_site

BOUNDS = ReleaseBounds(rounds=5, local_records=2000)
DATASET = "omop_notes"


# --- a file hidden in the low mantissa bits -------------------------------------------------------------------


def _hide(carrier: np.ndarray, payload: bytes) -> np.ndarray:
    """Write one payload byte into the low 8 mantissa bits of each float32 value."""
    raw = carrier.astype(np.float32).view(np.uint32).copy()
    raw = (raw & np.uint32(0xFFFFFF00)) | np.frombuffer(payload, dtype=np.uint8).astype(np.uint32)
    return raw.view(np.float32)


def _recover(values: np.ndarray) -> bytes:
    return (values.astype(np.float32).view(np.uint32) & np.uint32(0xFF)).astype(np.uint8).tobytes()


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(np.float64)


def test_a_file_hidden_in_the_low_bits_of_an_update_is_not_recoverable_after_release() -> None:
    gen = np.random.default_rng(20261205)
    secret = gen.bytes(2048)  # 2 KB of random bytes, one per update value
    carrier = gen.normal(0.0, 1e-3, size=2048).astype(np.float32)
    stego = _hide(carrier, secret)
    # An ordinary update: finite, tiny, far under the norm clip; the file comes back exactly before release.
    assert np.all(np.isfinite(stego)) and float(np.linalg.norm(stego)) < 0.1
    assert np.all(np.abs(stego - carrier) <= np.abs(carrier) * 2.0**-15)  # a change no one would notice
    assert _recover(stego) == secret

    released = release_update({"w": stego}, reference=None, rng=secure_generator()).data["w"]
    assert isinstance(released, np.ndarray) and released.dtype == np.float32

    recovered = _recover(released)
    assert recovered != secret
    assert recovered == bytes(2048)  # every bit below the grid is zero: nothing is left to read
    agreement = float(np.mean(_bits(recovered) == _bits(secret)))
    assert abs(agreement - 0.5) < 0.03  # chance: the secret's bits are half ones
    # The best remaining reading: did rounding go up? It follows the dropped fraction, in which the file's bits
    # weigh less than 2**-8, so it says nothing about them.
    went_up = ((released.view(np.uint32) >> 16) != (stego.view(np.uint32) >> 16)).astype(np.float64)
    top_bits = ((np.frombuffer(secret, dtype=np.uint8) >> 7) & 1).astype(np.float64)
    assert abs(float(np.corrcoef(went_up, top_bits)[0, 1])) < 0.1
    # ... while the update itself is kept: unbiased and within one grid step of each value.
    assert np.all(np.abs(released - stego) <= np.abs(stego) * 2.0**-7)


# --- stochastic rounding ----------------------------------------------------------------------------------------


def test_stochastic_rounding_is_unbiased() -> None:
    values = np.array([0.1, -0.1, 1.0 / 3, -2.0 / 3, 1e-5, 123.456, -7.77e-3, 2.0**-20 * 1.3], dtype=np.float32)
    draws = 20_000
    rounded = stochastic_round(np.broadcast_to(values, (draws, values.size)), np.random.default_rng(1), 7)
    step = np.exp2(np.floor(np.log2(np.abs(values.astype(np.float64)))) - 7)  # one grid step per value
    mean = rounded.astype(np.float64).mean(axis=0)
    # std of the mean <= step / (2 sqrt(draws)); allow 5 of those
    assert np.all(np.abs(mean - values.astype(np.float64)) <= 5 * step / (2 * math.sqrt(draws)))
    # every draw is one of the two grid neighbours
    low = np.floor(values.astype(np.float64) / step) * step
    assert np.all(np.isclose(rounded, low, rtol=0, atol=0) | np.isclose(rounded, low + step, rtol=0, atol=0))
    assert on_grid(rounded, 7)


def test_values_on_the_grid_stay_put_and_zero_stays_zero() -> None:
    values = np.array([0.0, -0.0, 1.0, 1.5, -0.75, 2.0**-30], dtype=np.float32)
    out = stochastic_round(values, secure_generator(), 7)
    assert np.array_equal(out, values)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e7])
def test_rounding_refuses_non_finite_and_huge_values(bad: float) -> None:
    with pytest.raises(EgressBlockedError):
        stochastic_round(np.array([0.5, bad], dtype=np.float64), secure_generator(), 7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_torch_tensors_keep_their_dtype_and_land_on_the_grid(dtype: torch.dtype) -> None:
    t = torch.linspace(-0.01, 0.02, 301).to(dtype)
    out = release_update({"w": t}, reference=None, rng=secure_generator()).data["w"]
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == t.shape
    assert on_grid(out.float(), 7)
    assert torch.allclose(out.float(), t.float(), rtol=2.0**-6, atol=0)


def test_full_weights_are_released_as_the_global_model_plus_the_rounded_update() -> None:
    gen = np.random.default_rng(3)
    global_w = gen.normal(0, 0.05, size=1000).astype(np.float32)
    result = global_w + gen.normal(0, 1e-4, size=1000).astype(np.float32)
    out = release_update({"w": result}, reference={"w": global_w}, rng=secure_generator()).data["w"]
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    update = result.astype(np.float64) - global_w
    # the error is relative to the update (not to the weight): rounding keeps the model's small steps
    assert np.all(np.abs((out.astype(np.float64) - global_w) - update) <= np.abs(update) * 2.0**-6 + 1e-9)


def test_integer_tensors_must_not_change() -> None:
    ids = np.arange(8, dtype=np.int64)
    w = np.zeros(3, dtype=np.float32)
    ok = release_update({"ids": ids, "w": w}, reference={"ids": ids.copy(), "w": w}, rng=secure_generator())
    assert np.array_equal(ok.data["ids"], ids)
    with pytest.raises(EgressBlockedError, match="differs from the global model"):
        release_update({"ids": ids + 1, "w": w}, reference={"ids": ids, "w": w}, rng=secure_generator())
    with pytest.raises(EgressBlockedError, match="not zero"):
        release_update({"ids": ids}, reference=None, rng=secure_generator())
    with pytest.raises(EgressBlockedError, match="no counterpart"):
        release_update({"extra": w}, reference={"w": w}, rng=secure_generator())


# --- metrics and integers (cases written by hand) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("f1", 0.123456, 0.123),
        ("val_precision", 0.98765, 0.988),
        ("recall", 1.0, 1.0),
        ("accuracy", 0.0, 0.0),
        ("accuracy", np.float32(0.5), 0.5),
        ("loss", 2.34567, 2.35),
        ("train_loss", 0.0, 0.0),
        ("val_loss", 9999.0, 10000.0),  # rounding up to the top of the range is still in it
        ("seconds", 12.3456, 12.3),
        ("epsilon", 2.71828, 2.72),
        ("num_examples", 1234, 1230),
        ("num_examples", 2000, 2000),
        ("steps", 123456, 123000),
        ("dice", -0.5, -0.5),  # a site-allowed name without a kind: the generic range
    ],
)
def test_metrics_are_rounded_to_three_significant_digits(name: str, value: object, expected: float) -> None:
    out = release_metric(name, value, BOUNDS)
    assert out == expected
    assert type(out) is (int if name in ("num_examples", "steps") else float)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("f1", math.nan, "not finite"),
        ("f1", math.inf, "not finite"),
        ("loss", -math.inf, "not finite"),
        ("f1", 1e308, "outside the range of a probability"),
        ("accuracy", 1.0004, "outside the range"),
        ("precision", -0.01, "outside the range"),
        ("loss", -0.5, "outside the range of a loss"),
        ("loss", 1e308, "outside the range of a loss"),
        ("epsilon", -1.0, "outside the range"),
        ("num_examples", 2001, "outside the range"),  # more than the site's records
        ("num_examples", 12.5, "not a whole number"),
        ("steps", 2**70, "outside the range"),
        ("dice", 1e308, "outside the range"),
        ("f1", True, "not a number"),
        ("f1", "0.9", "not a number"),
        ("f1", [0.9], "not a number"),
        ("f1", np.array([0.9, 0.8]), "not a number"),
    ],
)
def test_metrics_outside_their_rules_are_blocked(name: str, value: object, reason: str) -> None:
    with pytest.raises(EgressBlockedError, match=reason):
        release_metric(name, value, BOUNDS)


def test_metric_kinds_and_names() -> None:
    assert metric_kind("val_f1") is MetricKind.PROBABILITY
    assert metric_kind("eval_accuracy") is MetricKind.PROBABILITY
    assert metric_kind("dev_f1") is MetricKind.PROBABILITY
    assert metric_kind("val_loss") is MetricKind.LOSS
    assert metric_kind("num_examples") is MetricKind.EXAMPLES
    assert metric_kind("learning_rate") is MetricKind.OTHER
    assert release_metrics({"f1": 0.91234, "loss": 0.5}, BOUNDS) == {"f1": 0.912, "loss": 0.5}
    with pytest.raises(EgressBlockedError, match="not text"):
        release_metrics({1: 0.5}, BOUNDS)


@pytest.mark.parametrize("value", [0, 3, 5, np.int64(4)])
def test_rounds_within_the_approved_rounds_pass(value: object) -> None:
    assert bounded_int("current_round", value, 0, BOUNDS.rounds) == int(value)  # type: ignore[call-overload]


@pytest.mark.parametrize("value", [6, -1, 2**70, True, 3.0, "3", None])
def test_rounds_outside_or_not_integers_are_blocked(value: object) -> None:
    with pytest.raises(EgressBlockedError, match="current_round"):
        bounded_int("current_round", value, 0, BOUNDS.rounds)


def test_step_counts_are_bounded_and_rounded() -> None:
    assert released_count("NUM_STEPS_CURRENT_ROUND", 12, 10_000) == 12
    assert released_count("NUM_STEPS_CURRENT_ROUND", 9876, 10_000) == 9880
    assert released_count("NUM_STEPS_CURRENT_ROUND", 9999, 9999) == 9999  # rounding never passes the bound
    with pytest.raises(EgressBlockedError):
        released_count("NUM_STEPS_CURRENT_ROUND", 10_001, 10_000)


# --- the site's DP ----------------------------------------------------------------------------------------------


def test_site_dp_clips_the_update_to_the_policy_norm() -> None:
    gen = np.random.default_rng(5)
    update = {"a": gen.normal(0, 1, size=400).astype(np.float32), "b": gen.normal(0, 1, size=100).astype(np.float32)}
    dp = SiteDp(clip_norm=1.0, noise_multiplier=1e-9)  # noise negligible: what is left is the clipped update
    out = release_update(update, reference=None, rng=secure_generator(), dp=dp)
    assert out.clipped and out.noised and out.norm > 20
    released = np.concatenate([np.asarray(out.data["a"]), np.asarray(out.data["b"])]).astype(np.float64)
    # clipped to 1.0; stochastic rounding moves each value by under 2**-7 of itself, the norm by at most that
    assert float(np.linalg.norm(released)) <= 1.0 * (1 + 2.0**-7)
    direction = np.concatenate([update["a"], update["b"]]).astype(np.float64)
    assert float(np.dot(released, direction / np.linalg.norm(direction))) > 0.99


def test_site_dp_leaves_a_small_update_unscaled() -> None:
    update = {"a": np.full(4, 0.1, dtype=np.float32)}
    out = release_update(update, reference=None, rng=secure_generator(), dp=SiteDp(1.0, 1e-9))
    assert not out.clipped and math.isclose(out.norm, 0.2, rel_tol=1e-6)
    assert np.allclose(out.data["a"], 0.1, rtol=2.0**-7)


def test_site_dp_noise_has_the_calibrated_standard_deviation() -> None:
    dp = SiteDp(clip_norm=0.5, noise_multiplier=2.0)
    assert dp.noise_std == 1.0 and dp.record_multiplier == 1.0
    out = release_update({"w": np.zeros(200_000, dtype=np.float32)}, reference=None, rng=secure_generator(), dp=dp)
    noise = np.asarray(out.data["w"], dtype=np.float64)
    assert abs(float(noise.std()) - dp.noise_std) < 0.01
    assert abs(float(noise.mean())) < 0.01


def test_site_dp_covers_scaffold_controls_with_the_same_clip() -> None:
    data = {"w": np.full(100, 1.0, dtype=np.float32)}
    extra = {"c": np.full(100, 1.0, dtype=np.float32)}
    out = release_update(data, reference=None, rng=secure_generator(), dp=SiteDp(1.0, 1e-9), extra=extra)
    joint = np.concatenate([np.asarray(out.data["w"]), np.asarray(out.extra["c"])]).astype(np.float64)
    assert math.isclose(out.norm, math.sqrt(200), rel_tol=1e-9)
    assert float(np.linalg.norm(joint)) <= 1 + 2.0**-7


def test_site_dp_arguments_are_validated() -> None:
    for clip, nm in ((0.0, 1.0), (1.0, 0.0), (-1.0, 1.0), (math.inf, 1.0), (1.0, math.nan)):
        with pytest.raises(ValueError, match="SiteDp"):
            SiteDp(clip, nm)
    assert math.isclose(SiteDp(1.0, 1.0).capacity_bits, 1 / (2 * math.log(2)))


def _reopen(site: Site, db: Path) -> PrivacyLedger:
    """The ledger as a restarted site process opens it: a new store on the same state.db."""
    store = StateStore.for_path(db)
    audit = AuditLog(store, site.key, clock=site.clock)
    return PrivacyLedger(store, audit, budgets={DATASET: 8.0}, delta=1e-5, accountant="rdp", clock=site.clock)


def test_the_ledger_is_charged_the_site_epsilon_not_the_declared_one(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    site = make_site(db, budget=8.0)
    declared = DpParams(noise_multiplier=0.0, max_grad_norm=1.0, target_epsilon=0.5, delta=1e-5)
    site.ledger.reserve("job-1", DATASET, declared, actor="site")  # the job says: epsilon 0.5 in all
    accountant = SiteAccountant(site.ledger, "job-1", DATASET, SiteDp(1.0, 4.0), max_epsilon_per_job=6.0)
    first = accountant.charge_round(actor="site")
    second = accountant.charge_round(actor="site")
    expected = epsilon_of([(2.0, 1.0, 2)], 1e-5, "rdp")
    assert first < second == pytest.approx(expected)
    assert second > 0.5  # more than the job declared
    reservation = site.ledger.commit("job-1", actor="site")
    assert reservation is not None and reservation.spent_epsilon == pytest.approx(expected)
    assert site.ledger.epsilon_spent(DATASET) == pytest.approx(expected)


def test_the_site_accountant_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    site = make_site(db, budget=8.0)
    dp = SiteDp(1.0, 4.0)
    SiteAccountant(site.ledger, "job-1", DATASET, dp, 6.0).charge_round(actor="site")
    SiteAccountant(site.ledger, "job-1", DATASET, dp, 6.0).charge_round(actor="site")
    restarted = SiteAccountant(_reopen(site, db), "job-1", DATASET, dp, 6.0)
    assert restarted.epsilon() == pytest.approx(epsilon_of([(2.0, 1.0, 2)], 1e-5, "rdp"))
    third = restarted.charge_round(actor="site")
    assert third == pytest.approx(epsilon_of([(2.0, 1.0, 3)], 1e-5, "rdp"))
    assert SiteAccountant(site.ledger, "job-2", DATASET, dp, 6.0).epsilon() == 0.0  # one accountant per job


def test_a_round_past_the_per_job_or_dataset_budget_is_refused_and_not_charged(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", budget=8.0)
    one_round = epsilon_of([(1.0, 1.0, 1)], 1e-5, "rdp")
    tight = SiteAccountant(site.ledger, "job-1", DATASET, SiteDp(1.0, 2.0), max_epsilon_per_job=one_round * 1.01)
    tight.charge_round(actor="site")
    with pytest.raises(BudgetExceededError, match="per job"):
        tight.charge_round(actor="site")
    assert site.ledger.job_steps("job-1") == [(1.0, 1.0, 1)]
    small = make_site(tmp_path / "small.db", budget=one_round * 1.2)
    other = SiteAccountant(small.ledger, "job-9", DATASET, SiteDp(1.0, 2.0), max_epsilon_per_job=100.0)
    other.charge_round(actor="site")
    with pytest.raises(BudgetExceededError, match="budget"):
        other.charge_round(actor="site")
    assert small.ledger.job_steps("job-9") == [(1.0, 1.0, 1)]
