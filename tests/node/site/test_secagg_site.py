"""Secure aggregation at the site, on NVFlare's own Shareable/DXO objects: the executor's protocol tasks, the
egress guard masking the checked update as the last step (integer ring tensors of the task's names and shapes),
protocol messages allowed out only as produced, and a site that requires secure aggregation never sending an
unmasked update."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from nvflare.apis.dxo import DXO, DataKind, MetaKey, from_shareable
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, ReservedKey, ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import ReservedHeaderKey, Shareable
from nvflare.app_common.app_constant import AppConstants

from node.ml.secagg import (
    ADVERTISE_TASK,
    META_KEY,
    SHARE_TASK,
    UNMASK_TASK,
    RoundContext,
    SecAggClient,
    SecAggServer,
)
from node.site.egress.guard import EgressGuard
from node.site.gate import ApprovalGate
from node.site.secagg import SESSIONS, answer_task
from policies.policy_model import SecureAggregation
from tests.node.ml.secagg_support import Pki
from tests.node.sitekit import SITE, context_for, ctx, make_job, new_site, server_meta

JOB = "job-1"
GLOBAL = {
    "encoder.weight": np.zeros((40, 30), dtype=np.float32),
    "classifier.bias": np.zeros((3,), dtype=np.float32),
}
PEERS = ("site-b", "site-c")


class _Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    def get_root_dir(self) -> str:
        return str(self.root)


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Site ``site-a`` running job-1 with its kit (root CA, client key and certificate), its guard, and two peers."""
    SESSIONS.jobs.clear()
    site = new_site(tmp_path)
    context = context_for(site)
    ApprovalGate(context=context).check_job(JOB, server_meta(make_job(tmp_path), JOB), SITE)
    site.jobs.approve(JOB, "dr.hansen", "ok")
    site.jobs.mark_running(JOB)
    pki = Pki()
    pki.write_kit(tmp_path / "kit" / "startup", SITE)
    return SimpleNamespace(
        site=site,
        context=context,
        guard=EgressGuard(context=context),
        pki=pki,
        engine=SimpleNamespace(get_workspace=lambda: _Workspace(tmp_path / "kit")),
    )


def _fl_ctx(world: Any, task_id: str, task_name: str) -> FLContext:
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, JOB, private=False, sticky=False)
    fl_ctx.set_prop(ReservedKey.ENGINE, world.engine, private=True, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_ID, task_id, private=True, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_NAME, task_name, private=True, sticky=False)
    return fl_ctx


def _task(data: dict[str, Any], meta: dict[str, Any], round_: int = 0) -> Shareable:
    s = DXO(DataKind.WEIGHTS, data, meta).to_shareable()
    s.set_header(AppConstants.CURRENT_ROUND, round_)
    return s


def _through_guard(world: Any, task_name: str, task: Shareable, run: Any, task_id: str) -> Shareable:
    """The client runner's sequence: task data filtered, executor ran, result filtered, then sent."""
    fl_ctx = _fl_ctx(world, task_id, task_name)
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    world.guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)
    result: Shareable = run(task, fl_ctx)
    fl_ctx.set_prop(FLContextKey.TASK_DATA, None, private=True, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, result, private=True, sticky=False)
    world.guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    result.set_header(ReservedHeaderKey.TASK_NAME, task_name)
    result.set_header(ReservedHeaderKey.TASK_ID, task_id)
    world.guard.handle_event(EventType.BEFORE_SEND_TASK_RESULT, fl_ctx)
    return result


def _protocol(world: Any, task_name: str, meta: dict[str, Any], task_id: str) -> Shareable:
    def run(task: Shareable, fl_ctx: FLContext) -> Shareable:
        return answer_task(task_name, task, fl_ctx, world.context, lambda: 30)

    return _through_guard(world, task_name, _task({}, {META_KEY: meta}), run, task_id)


def _message(result: Shareable) -> dict[str, Any]:
    assert result.get_return_code() == ReturnCode.OK
    return dict(from_shareable(result).meta[META_KEY])


def _update() -> dict[str, np.ndarray[Any, Any]]:
    return {k: np.full(v.shape, 0.01, dtype=np.float32) for k, v in GLOBAL.items()}


def _train(world: Any, meta: dict[str, Any], task_id: str) -> Shareable:
    def run(task: Shareable, fl_ctx: FLContext) -> Shareable:
        assert META_KEY not in from_shareable(task).meta  # the executor never sees the peers' shares
        s = DXO(DataKind.WEIGHT_DIFF, _update(), {MetaKey.NUM_STEPS_CURRENT_ROUND: 3}).to_shareable()
        s.set_header(AppConstants.CURRENT_ROUND, 0)
        return s

    return _through_guard(world, "train", _task({k: v.copy() for k, v in GLOBAL.items()}, meta), run, task_id)


def test_a_securely_aggregated_round_through_the_site(world: Any) -> None:
    ctx0 = RoundContext(JOB, 0, 2)
    server = SecAggServer(ctx0)
    peers = {p: SecAggClient(world.pki.identity(p), world.pki.anchor, ctx0) for p in PEERS}
    mine = _message(_protocol(world, ADVERTISE_TASK, {"stage": "advertise", "context": ctx0.to_json()}, "t1"))
    adverts = server.collect_adverts({SITE: mine["advert"], **{p: c.advertise(10) for p, c in peers.items()}})
    mine = _message(_protocol(world, SHARE_TASK, {"stage": "share", "round": 0, "adverts": adverts}, "t2"))
    routed = server.route_shares({SITE: mine["shares"], **{p: c.share(adverts) for p, c in peers.items()}})

    result = _train(world, {META_KEY: {"stage": "masked", "round": 0, "shares": routed}}, "t3")
    assert result.get_return_code() == ReturnCode.OK
    dxo = from_shareable(result)
    assert dxo.meta[META_KEY] == {"stage": "masked", "round": 0}
    assert {k: (v.shape, v.dtype) for k, v in dxo.data.items()} == {k: (v.shape, np.uint32) for k, v in GLOBAL.items()}
    server.add_masked(SITE, dxo.data)
    for p, c in peers.items():
        server.add_masked(p, c.mask({k: np.zeros_like(v) for k, v in GLOBAL.items()}, routed[p]))

    mine = _message(
        _protocol(world, UNMASK_TASK, {"stage": "unmask", "round": 0, "survivors": server.unmask_request()}, "t4")
    )
    result_sum = server.finish(
        {SITE: mine["shares"], **{p: c.unmask(server.unmask_request()) for p, c in peers.items()}}
    )
    np.testing.assert_allclose(result_sum.mean()["classifier.bias"], 0.01 * 30 / 50, atol=1e-6)
    assert [d.allowed for d in world.site.jobs.egress(JOB)] == [True] * 4


def test_a_protocol_message_changed_after_it_was_produced_is_blocked(world: Any) -> None:
    ctx0 = RoundContext(JOB, 0, 2)

    def run(task: Shareable, fl_ctx: FLContext) -> Shareable:
        reply = answer_task(ADVERTISE_TASK, task, fl_ctx, world.context, lambda: 30)
        reply["DXO"]["meta"][META_KEY]["advert"]["num_examples"] = 31  # job code or a filter slips in a number
        return reply

    task = _task({}, {META_KEY: {"stage": "advertise", "context": ctx0.to_json()}})
    result = _through_guard(world, ADVERTISE_TASK, task, run, "t9")
    assert result.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert (
        world.site.jobs.egress(JOB)[-1].reason == "secure-aggregation message is not one this site's protocol produced"
    )


def test_a_site_that_requires_secure_aggregation_never_sends_a_clear_update(world: Any) -> None:
    world.context.policy = SimpleNamespace(privacy=SimpleNamespace(secure_aggregation=SecureAggregation.REQUIRED))
    result = _train(world, {}, "t5")
    assert result.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "DXO" not in result
    reason = world.site.jobs.egress(JOB)[-1].reason
    assert reason == "secure aggregation is required but this task carries no secure-aggregation round"


def test_a_site_with_secure_aggregation_off_refuses_the_stages(world: Any) -> None:
    world.context.policy = SimpleNamespace(privacy=SimpleNamespace(secure_aggregation=SecureAggregation.OFF))
    ctx0 = RoundContext(JOB, 0, 2)
    result = _protocol(world, ADVERTISE_TASK, {"stage": "advertise", "context": ctx0.to_json()}, "t6")
    assert result.get_return_code() == ReturnCode.EXECUTION_EXCEPTION
