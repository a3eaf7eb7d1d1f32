"""The site's privacy filters: compiled from the example policy, built by NVFlare's own configurator, applied to
NVFlare Shareables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from nvflare.apis.dxo import DXO, DataKind, from_shareable
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, ReservedKey, ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable
from nvflare.apis.workspace import Workspace
from nvflare.private.fed.app.fl_conf import create_privacy_manager

from node.site.egress.guard import EgressGuard
from node.site.filters import DpBudgetFilter, EgressSchemaFilter, UpdateNormClip, global_l2_norm
from node.site.gate import ApprovalGate
from policies.compile import compile_site, write_site_files
from policies.contracts import DpParams
from policies.policy_model import load_policy
from tests.node.sitekit import context_for, ctx, make_job, new_site, server_meta

EXAMPLE_POLICY = Path(__file__).resolve().parents[3] / "policies" / "examples" / "site-policy.yaml"


def _diff(scale: float) -> Shareable:
    return DXO(
        DataKind.WEIGHT_DIFF,
        {"a": np.full((3, 4), scale, dtype=np.float32), "b": torch.full((5,), scale, dtype=torch.float32)},
    ).to_shareable()


def _job_ctx(job_id: str = "job-1") -> FLContext:
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, job_id, private=False, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_ID, "task-1", private=True, sticky=False)
    return fl_ctx


@pytest.fixture
def running(tmp_path: Path):  # type: ignore[no-untyped-def]
    site = new_site(tmp_path)
    context = context_for(site)
    ApprovalGate(context=context).check_job("job-1", server_meta(make_job(tmp_path), "job-1"), "site-a")
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    return site, context


def test_compiled_privacy_json_builds_with_nvflare(tmp_path: Path) -> None:
    """What policies.compile writes for the example policy, NVFlare 2.9 can build: our classes, our args."""
    files = compile_site(load_policy(EXAMPLE_POLICY))
    write_site_files(files, tmp_path / "ws" / "local")
    (tmp_path / "ws" / "startup").mkdir()  # a provisioned kit has one; the workspace object insists on it
    manager = create_privacy_manager(Workspace(str(tmp_path / "ws"), "site-a"), names_only=False)
    scope = manager.get_scope(None)
    built = [type(f).__name__ for f in scope.task_result_filters["out"]]
    assert built == ["DXOBlocker", "UpdateNormClip", "DpBudgetFilter", "EgressSchemaFilter"]
    assert isinstance(manager.components["fednode_egress_guard"], EgressGuard)
    clip = scope.task_result_filters["out"][1]
    assert clip.max_norm == 5.0


def test_norm_clip_scales_large_updates_and_keeps_small_ones(running) -> None:  # type: ignore[no-untyped-def]
    _site, context = running
    clip = UpdateNormClip(max_norm=1.0, context=context)
    big = clip.process(_diff(1.0), _job_ctx())
    data = from_shareable(big).data
    assert math.isclose(global_l2_norm(data.values()), 1.0, rel_tol=1e-5)
    assert data["a"].dtype == np.float32 and data["b"].dtype == torch.float32
    small = clip.process(_diff(0.01), _job_ctx())
    assert np.allclose(from_shareable(small).data["a"], 0.01)


def test_norm_clip_refuses_full_weights_and_records_it(running) -> None:  # type: ignore[no-untyped-def]
    site, context = running
    weights = DXO(DataKind.WEIGHTS, {"a": np.ones((2, 2), np.float32)}).to_shareable()
    out = UpdateNormClip(max_norm=1.0, context=context).process(weights, _job_ctx())
    assert out.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR and "DXO" not in out
    decision = site.jobs.egress("job-1")[-1]
    assert not decision.allowed and "WEIGHT_DIFF" in decision.reason


def test_norm_clip_rejects_bad_arguments() -> None:
    for bad in (0, -1.0, float("nan"), "2"):
        with pytest.raises(ValueError, match="max_norm"):
            UpdateNormClip(max_norm=bad)  # type: ignore[arg-type]


def test_dp_budget_filter_needs_a_live_reservation(running) -> None:  # type: ignore[no-untyped-def]
    site, context = running
    context.ledger = site.ledger
    context.policy = load_policy(EXAMPLE_POLICY)  # dp.required: true
    flt = DpBudgetFilter(context=context)
    assert flt.process(_diff(0.1), _job_ctx()).get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "no privacy-budget reservation" in site.jobs.egress("job-1")[-1].reason

    dp = DpParams(noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=1.0, delta=1e-5, sample_rate=0.01, steps=100)
    site.ledger.reserve("job-1", "omop_notes", dp, actor="test")
    assert flt.process(_diff(0.1), _job_ctx()).get_return_code() == ReturnCode.OK

    site.ledger.record_steps("job-1", "omop_notes", 0.3, 0.5, 5000, actor="test")  # far past the 8.0 budget
    assert flt.process(_diff(0.1), _job_ctx()).get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "exceeds its budget" in site.jobs.egress("job-1")[-1].reason


def test_egress_schema_filter_uses_the_global_model_the_guard_saw(running) -> None:  # type: ignore[no-untyped-def]
    _site, context = running
    guard, flt = EgressGuard(context=context), EgressSchemaFilter(context=context)
    fl_ctx = _job_ctx()
    task = DXO(DataKind.WEIGHTS, {"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float32)}).to_shareable()
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)
    good = DXO(DataKind.WEIGHT_DIFF, {"a": np.ones((3, 4), np.float32), "b": np.ones(5, np.float32)})
    assert flt.process(good.to_shareable(), fl_ctx).get_return_code() == ReturnCode.OK
    bad = DXO(DataKind.WEIGHT_DIFF, {"a": np.ones((3, 4), np.float32), "c": np.ones(5, np.float32)})
    assert flt.process(bad.to_shareable(), fl_ctx).get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR


def test_error_replies_pass_through_untouched(running) -> None:  # type: ignore[no-untyped-def]
    _site, context = running
    reply = Shareable()
    reply.set_return_code(ReturnCode.EXECUTION_EXCEPTION)
    out = UpdateNormClip(max_norm=1.0, context=context).process(reply, _job_ctx())
    assert out.get_return_code() == ReturnCode.EXECUTION_EXCEPTION


def test_egress_schema_filter_passes_the_sites_own_audit_head_only(running) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from node.kit.meta import HEAD_META_KEY
    from node.site.receipts import ReceiptIssuer
    from policies.keys import SiteKey

    site, context = running
    issuer = ReceiptIssuer(site="site-a", jobs=site.jobs, key=site.key, audit=site.audit)
    context = replace(context, receipts=issuer)
    guard, flt = EgressGuard(context=context), EgressSchemaFilter(context=context)
    fl_ctx = _job_ctx()
    task = DXO(DataKind.WEIGHTS, {"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float32)}).to_shareable()
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)
    head = issuer.signed_head()
    assert head is not None
    data = {"a": np.ones((3, 4), np.float32), "b": np.ones(5, np.float32)}
    good = DXO(DataKind.WEIGHT_DIFF, data, {HEAD_META_KEY: head})
    assert flt.process(good.to_shareable(), fl_ctx).get_return_code() == ReturnCode.OK
    forged = {**head, "signature": SiteKey.generate().sign(b"x")}
    bad = DXO(DataKind.WEIGHT_DIFF, data, {HEAD_META_KEY: forged})
    assert flt.process(bad.to_shareable(), fl_ctx).get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
