"""The egress guard releases BYOC results (node.site.release): rounding, bounds and the site's own DP, charged to
the ledger by the site; config-only jobs keep today's checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nvflare.apis.dxo import DXO, DataKind, MetaKey
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, ReservedKey, ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import ReservedHeaderKey, Shareable
from nvflare.app_common.app_constant import AppConstants

from node.kit.meta import RECEIPT_META_KEY
from node.site.egress.guard import EgressGuard
from node.site.gate import ApprovalGate
from node.site.receipts import ReceiptIssuer
from node.site.release import on_grid
from policies.contracts import JobKind, JobState
from policies.ledger import epsilon_of
from tests.node.sitekit import ALLOW, context_for, ctx, make_job, server_meta
from tests.policies.statekit import Site, dp, make_site, manifest

GLOBAL = {"encoder.weight": np.full((4, 3), 0.25, dtype=np.float32), "classifier.bias": np.zeros(3, np.float32)}
SITE_DP = {"clip_norm": 1.0, "noise_multiplier": 4.0, "max_epsilon_per_job": 6.0}
RECORDS = 300


def _site(tmp_path: Path, *, budget: float = 8.0) -> Site:
    site = make_site(tmp_path / "state.db", budget=budget)
    job = replace(manifest("job-1", dp=dp(noise=3.0, steps=10, target=0.5)), kind=JobKind.BYOC, rounds=3)
    site.jobs.register_pending(job, ALLOW)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    return site


def _guard(site: Site, **release: Any) -> EgressGuard:
    context = replace(context_for(site), ledger=site.ledger, local_records=lambda: RECORDS)
    return EgressGuard(release=release or None, context=context)


def _ctx(task_id: str) -> FLContext:
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_ID, task_id, private=True, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_NAME, "train", private=True, sticky=False)
    return fl_ctx


def _result(data: dict[str, Any], kind: str = DataKind.WEIGHT_DIFF, **meta: Any) -> Shareable:
    s = DXO(kind, data, {MetaKey.NUM_STEPS_CURRENT_ROUND: 12, **meta}).to_shareable()
    s.set_header(AppConstants.CURRENT_ROUND, 2)
    return s


def _run(guard: EgressGuard, result: Shareable, task_id: str = "task-1", *, tamper: bool = False) -> Shareable:
    """The client runner's sequence around one task (see test_egress.py)."""
    fl_ctx = _ctx(task_id)
    task = DXO(DataKind.WEIGHTS, {k: v.copy() for k, v in GLOBAL.items()}).to_shareable()
    task.set_header(AppConstants.CURRENT_ROUND, 2)
    task.set_header(AppConstants.NUM_ROUNDS, 3)
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, result, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    if tamper and "DXO" in result:  # something changed the released result before it was sent
        result["DXO"]["data"]["classifier.bias"] = result["DXO"]["data"]["classifier.bias"] + np.float32(1e-7)
    result.set_header(ReservedHeaderKey.TASK_NAME, "train")
    result.set_header(ReservedHeaderKey.TASK_ID, task_id)
    guard.handle_event(EventType.BEFORE_SEND_TASK_RESULT, fl_ctx)
    return result


def _decisions(site: Site) -> list[tuple[bool, str]]:
    return [(d.allowed, d.reason) for d in site.jobs.egress("job-1")]


def _stego(payload: bytes) -> dict[str, np.ndarray]:
    """An update with one payload byte in the low 8 mantissa bits of each value."""
    values = np.full(12, 1e-3, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFFFF00)
    values |= np.frombuffer(payload[:12], dtype=np.uint8).astype(np.uint32)
    return {"encoder.weight": values.view(np.float32).reshape(4, 3), "classifier.bias": np.zeros(3, np.float32)}


def test_a_byoc_update_is_released_on_the_grid_and_its_hidden_bytes_are_gone(tmp_path: Path) -> None:
    site = _site(tmp_path)
    payload = bytes(range(101, 113))
    result = _run(_guard(site), _result(_stego(payload), initial_metrics={"f1": 0.8765432}))
    assert result.get_return_code() == ReturnCode.OK
    w = result["DXO"]["data"]["encoder.weight"]
    assert on_grid(w, 7) and not np.any(w.view(np.uint32) & np.uint32(0xFF))
    assert result["DXO"]["meta"][MetaKey.INITIAL_METRICS] == {"f1": 0.877}
    assert _decisions(site) == [(True, "released: 2 tensors rounded to 7 bits")]


def test_full_weights_are_released_against_the_global_model_the_task_carried(tmp_path: Path) -> None:
    site = _site(tmp_path)
    weights = {k: v + np.float32(3e-4) for k, v in GLOBAL.items()}
    result = _run(_guard(site), _result(weights, DataKind.WEIGHTS))
    assert result.get_return_code() == ReturnCode.OK
    released = result["DXO"]["data"]
    assert np.allclose(released["encoder.weight"] - GLOBAL["encoder.weight"], 3e-4, rtol=2.0**-6)


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ({"val_f1": float("nan")}, "val_f1 is not a finite number"),  # the form check sees it first
        ({"loss": -0.1}, "outside the range of a loss"),
        ({"num_examples": RECORDS + 1}, "outside the range"),
        ({MetaKey.NUM_STEPS_CURRENT_ROUND: 10**12}, "NUM_STEPS_CURRENT_ROUND is outside"),
    ],
)
def test_metrics_and_integers_outside_the_rules_are_blocked_and_audited(
    tmp_path: Path, meta: dict[str, Any], reason: str
) -> None:
    site = _site(tmp_path)
    result = _run(_guard(site), _result(dict(GLOBAL), **meta))
    assert result.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR and "DXO" not in result
    allowed, recorded = _decisions(site)[-1]
    assert not allowed and reason in recorded
    events = [r.event for r in site.audit.iter_records() if r.job_id == "job-1"]
    assert "egress:blocked" in events


def test_a_round_past_the_approved_rounds_is_blocked(tmp_path: Path) -> None:
    site = _site(tmp_path)
    result = _result(dict(GLOBAL))
    result.set_header(AppConstants.CURRENT_ROUND, 4)  # the job was approved for 3 rounds
    assert _run(_guard(site), result).get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "current_round is outside [0, 3]" in _decisions(site)[-1][1]


def test_a_result_changed_after_its_release_is_blocked(tmp_path: Path) -> None:
    site = _site(tmp_path)
    result = _run(_guard(site), _result(dict(GLOBAL)), tamper=True)
    assert result.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert _decisions(site)[-1] == (False, "result changed after its release")


def test_site_dp_is_applied_and_charged_by_the_site_across_rounds_and_restarts(tmp_path: Path) -> None:
    site = _site(tmp_path)
    big = {k: np.full(v.shape, 10.0, dtype=np.float32) for k, v in GLOBAL.items()}
    result = _run(_guard(site, dp_required=True, site_dp=SITE_DP), _result(big))
    assert result.get_return_code() == ReturnCode.OK
    released = np.concatenate([np.ravel(v) for v in result["DXO"]["data"].values()])
    assert not np.allclose(released, 10.0)  # clipped to norm 1 and noised with std 4
    assert site.ledger.job_steps("job-1") == [(2.0, 1.0, 1)]
    one = epsilon_of([(2.0, 1.0, 1)], 1e-5, "rdp")
    assert _decisions(site)[-1][0] and f"job epsilon {one:.3g} at this site" in _decisions(site)[-1][1]
    _run(_guard(site, dp_required=True, site_dp=SITE_DP), _result(big), "task-2")  # a restarted job process
    assert site.ledger.job_steps("job-1") == [(2.0, 1.0, 2)]
    assert site.ledger.epsilon_spent("omop_notes") == pytest.approx(epsilon_of([(2.0, 1.0, 2)], 1e-5, "rdp"))
    assert site.ledger.epsilon_spent("omop_notes") > 0.5  # more than the job declared


def test_site_dp_past_the_budget_blocks_and_charges_nothing(tmp_path: Path) -> None:
    site = _site(tmp_path, budget=1.0)  # one round at noise 4 costs more than 1
    result = _run(_guard(site, dp_required=True, site_dp=SITE_DP), _result(dict(GLOBAL)))
    assert result.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "over its budget" in _decisions(site)[-1][1]
    assert site.ledger.job_steps("job-1") == []


def test_required_dp_without_site_noise_blocks_byoc_updates(tmp_path: Path) -> None:
    site = _site(tmp_path)
    assert _run(_guard(site, dp_required=True), _result(dict(GLOBAL))).get_return_code() != ReturnCode.OK
    assert "sets no site noise" in _decisions(site)[-1][1]


def test_config_only_jobs_keep_todays_path(tmp_path: Path) -> None:
    site = make_site(tmp_path / "state.db", budget=8.0)
    context = replace(context_for(site), ledger=site.ledger, local_records=lambda: RECORDS)
    ApprovalGate(context=context).check_job("job-1", server_meta(make_job(tmp_path), "job-1"), "site-a")
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    assert site.jobs.get("job-1").state is JobState.RUNNING
    update = {k: np.full(v.shape, 0.0123456, dtype=np.float32) for k, v in GLOBAL.items()}
    guard = EgressGuard(release={"dp_required": True}, context=context)
    result = _run(guard, _result(update, val_f1=0.8765432))
    assert result.get_return_code() == ReturnCode.OK
    assert np.array_equal(result["DXO"]["data"]["encoder.weight"], update["encoder.weight"])
    assert result["DXO"]["meta"]["val_f1"] == 0.8765432
    assert _decisions(site) == [(True, "passed: WEIGHT_DIFF with 2 entries")]


def test_a_released_byoc_update_carries_the_sites_signed_receipt(tmp_path: Path) -> None:
    site = _site(tmp_path)
    issuer = ReceiptIssuer(site="site-a", jobs=site.jobs, key=site.key, audit=site.audit, clock=site.clock)
    context = replace(context_for(site), ledger=site.ledger, local_records=lambda: RECORDS, receipts=issuer)
    result = _run(EgressGuard(context=context), _result(dict(GLOBAL)))
    assert result.get_return_code() == ReturnCode.OK  # the final check verified the receipt too
    assert result["DXO"]["meta"][RECEIPT_META_KEY] == issuer.for_job("job-1")
