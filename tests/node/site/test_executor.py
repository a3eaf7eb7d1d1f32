"""The built-in NER trainer as an NVFlare executor: tiny BERT, examples read from a real OMOP CDM (SQLite) built
from data/ncbi-disease-mini, the job registry and the privacy ledger on a real state.db."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nvflare.apis.dxo import DataKind, MetaKey, from_shareable
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, ReservedKey, ReturnCode
from nvflare.apis.shareable import Shareable
from nvflare.apis.signal import Signal
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from nvflare.app_common.app_constant import AppConstants
from nvflare.app_common.utils.fl_model_utils import FLModelUtils

from fednode.settings import load_settings
from node.kit.meta import HEAD_META_KEY, RECEIPT_META_KEY
from node.ml.ner.model import load_ner_model
from node.site.context import SiteContext
from node.site.egress.guard import EgressGuard
from node.site.executor import NerExecutor, site_dp_params
from node.site.gate import ApprovalGate
from node.site.receipts import ReceiptIssuer
from policies.audit import SignedHead
from policies.contracts import DpParams
from policies.policy_model import DpSection
from policies.receipts import Receipt, verify_receipt
from tests.node.sitekit import ALLOW, build_cdm, ctx, make_job, new_site, server_meta


@pytest.fixture(scope="module")
def cdm_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_cdm(tmp_path_factory.mktemp("cdm") / "omop.db")


@pytest.fixture(scope="module")
def global_params() -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in load_ner_model("tiny", seed=0).state().items()}


def _context(tmp_path: Path, cdm_url: str, *, dataset: str = "omop") -> tuple[object, SiteContext]:
    site = new_site(tmp_path)
    settings = load_settings(home=tmp_path, omop_url=cdm_url)
    issuer = ReceiptIssuer(site="site-a", jobs=site.jobs, key=site.key, audit=site.audit)
    context = SiteContext(
        site_name="site-a", jobs=site.jobs, evaluate=lambda _m: ALLOW, settings=settings, receipts=issuer
    )
    job = make_job(tmp_path, dataset=dataset)
    ApprovalGate(context=context).check_job("job-1", server_meta(job, "job-1"), "site-a")
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    return site, context


def _task(params: dict[str, np.ndarray], round_: int = 0) -> Shareable:
    model = FLModel(params=dict(params), params_type=ParamsType.FULL, current_round=round_, total_rounds=2)
    return FLModelUtils.to_shareable(model)


def test_a_round_on_the_site_cdm_returns_an_update_the_egress_guard_passes(tmp_path, cdm_url, global_params) -> None:  # type: ignore[no-untyped-def]
    site, context = _context(tmp_path, cdm_url)
    executor = NerExecutor(model_spec="tiny", batch_size=8, max_steps=3, learning_rate=1e-3, context=context)
    guard = EgressGuard(context=context)
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_ID, "t0", private=True, sticky=False)
    task = _task(global_params)
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)

    result = executor.execute("train", task, fl_ctx, Signal())

    assert result.get_return_code() == ReturnCode.OK
    dxo = from_shareable(result)
    assert dxo.data_kind == DataKind.WEIGHT_DIFF
    assert set(dxo.data) <= set(global_params)
    assert all(dxo.data[k].shape == global_params[k].shape for k in dxo.data)
    assert sum(float(np.abs(v).sum()) for v in dxo.data.values()) > 0  # it trained
    assert dxo.meta["num_examples"] > 0 and dxo.meta[MetaKey.NUM_STEPS_CURRENT_ROUND] == 3
    assert result.get_header(AppConstants.CURRENT_ROUND) == 0
    receipt = Receipt.from_json(dxo.meta[RECEIPT_META_KEY])  # the site's signed approval, for the provenance
    body = verify_receipt(receipt, site.key.public_key)  # type: ignore[attr-defined]
    assert body["site"] == "site-a" and body["job_id"] == "job-1"
    assert body["job_digest"] == site.jobs.get("job-1").manifest.digest  # type: ignore[attr-defined]
    assert [a["name"] for a in body["approvers"]] == ["dr.hansen"]
    head = SignedHead.from_json(dxo.meta[HEAD_META_KEY])  # a fresh signed head of the site's audit chain
    head.verify(site.key.public_key)  # type: ignore[attr-defined]
    in_chain = site.audit.records(after_seq=head.seq - 1, limit=1)  # type: ignore[attr-defined]
    assert head.site == "site-a" and [r.hash for r in in_chain] == [head.hash]  # it names the chain as it was
    assert SignedHead.from_json(body["audit_head"]).seq < head.seq  # the receipt's own head, signed earlier

    fl_ctx.set_prop(FLContextKey.TASK_RESULT, result, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    assert result.get_return_code() == ReturnCode.OK
    rounds = site.jobs.rounds("job-1")  # type: ignore[attr-defined]
    assert [r.round for r in rounds] == [0] and rounds[0].metrics["train_loss"] > 0 and rounds[0].bytes_sent > 0
    assert site.jobs.egress("job-1")[-1].allowed  # type: ignore[attr-defined]


def test_wrong_task_and_aborted_rounds(tmp_path, cdm_url, global_params) -> None:  # type: ignore[no-untyped-def]
    _site, context = _context(tmp_path, cdm_url)
    executor = NerExecutor(model_spec="tiny", max_steps=1, context=context)
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    assert executor.execute("validate", _task(global_params), fl_ctx, Signal()).get_return_code() == (
        ReturnCode.TASK_UNKNOWN
    )
    aborted = Signal()
    aborted.trigger(True)
    assert executor.execute("train", _task(global_params), fl_ctx, aborted).get_return_code() == ReturnCode.TASK_ABORTED


def test_site_policy_makes_dp_parameters_stricter() -> None:
    policy = DpSection(required=True, max_epsilon_per_job=3.0, delta=1e-5, min_noise_multiplier=0.8, max_grad_norm=1.0)
    lax = DpParams(noise_multiplier=0.1, max_grad_norm=5.0, target_epsilon=50.0, delta=1e-3, sample_rate=0.02)
    params = site_dp_params(policy, lax, dataset_budget=8.0)
    assert params is not None
    assert (params.noise_multiplier, params.max_grad_norm, params.delta) == (0.8, 1.0, 1e-5)
    assert params.target_epsilon == 8.0 and params.sample_rate == 0.02
    assert site_dp_params(policy.model_copy(update={"required": False}), None, dataset_budget=8.0) is None
    assert site_dp_params(policy, None, dataset_budget=8.0) is not None  # required even if the job declares none


def test_dp_round_accounts_its_steps_in_the_site_ledger(tmp_path, cdm_url, global_params) -> None:  # type: ignore[no-untyped-def]
    from policies.policy_model import load_policy

    policy = load_policy(Path(__file__).resolve().parents[3] / "policies" / "examples" / "site-policy.yaml")
    site, context = _context(tmp_path, cdm_url, dataset="omop_notes")  # the kit's ledger budgets omop_notes
    context.policy = policy
    context.ledger = site.ledger  # type: ignore[attr-defined]
    executor = NerExecutor(model_spec="tiny", batch_size=8, max_steps=2, context=context)
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    result = executor.execute("train", _task(global_params), fl_ctx, Signal())
    assert result.get_return_code() == ReturnCode.OK
    history = site.ledger.accountant_history("omop_notes")  # type: ignore[attr-defined]
    assert sum(s for _, _, s in history) == 2
    assert history[0][0] >= policy.privacy.dp.min_noise_multiplier
    assert from_shareable(result).meta[MetaKey.INITIAL_METRICS]["epsilon"] > 0


def test_the_site_record_count_counts_annotated_notes(cdm_url: str, tmp_path: Path) -> None:
    from node.site.live_state import site_record_count

    assert site_record_count(load_settings(home=tmp_path, omop_url=cdm_url))() == 6
    missing = tmp_path / "none.db"
    assert site_record_count(load_settings(home=tmp_path, omop_url=f"sqlite:///{missing}"))() == 0
    assert not missing.exists()
