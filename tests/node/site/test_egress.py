"""The egress guard on NVFlare's own Shareable/DXO objects, as the client runner hands them to event handlers."""

from __future__ import annotations

import logging
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from nvflare.apis.dxo import DXO, DataKind, MetaKey
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, ProcessType, ReservedKey, ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import ReservedHeaderKey, Shareable
from nvflare.app_common.app_constant import AppConstants

from node.kit.meta import RECEIPT_META_KEY
from node.site.egress.guard import EgressGuard, EgressPolicy, check_result, schema_of
from node.site.gate import ApprovalGate
from node.site.receipts import ReceiptIssuer
from policies.contracts import JobState
from policies.keys import SiteKey
from policies.receipts import _message as _receipt_message
from tests.node.sitekit import SITE, context_for, ctx, make_job, new_site, server_meta

# Synthetic PHI: a Faker-style Norwegian name and a fødselsnummer with valid check digits (not a real person).
PHI_NAME = "Kari Nordmann-Bjørnstad"
PHI_FNR = "01017012366"

GLOBAL = {
    "encoder.weight": np.zeros((4, 3), dtype=np.float32),
    "classifier.bias": np.zeros((3,), dtype=np.float32),
}


def _task_data(round_: int = 2) -> Shareable:
    s = DXO(DataKind.WEIGHTS, {k: v.copy() for k, v in GLOBAL.items()}).to_shareable()
    s.set_header(AppConstants.CURRENT_ROUND, round_)
    s.set_header(AppConstants.NUM_ROUNDS, 5)
    return s


def _update(**extra: object) -> dict[str, object]:
    data: dict[str, object] = {k: np.full(v.shape, 0.01, dtype=v.dtype) for k, v in GLOBAL.items()}
    data.update(extra)
    return data


def _result(
    data: dict[str, object], meta: dict[str, object] | None = None, kind: str = DataKind.WEIGHT_DIFF
) -> Shareable:
    s = DXO(kind, data, meta or {MetaKey.NUM_STEPS_CURRENT_ROUND: 12}).to_shareable()
    s.set_header(AppConstants.CURRENT_ROUND, 2)
    return s


@pytest.fixture
def site_and_guard(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A running job in a real registry, and the guard wired to it."""
    site = new_site(tmp_path)
    context = context_for(site)
    gate = ApprovalGate(context=context)
    meta = server_meta(make_job(tmp_path), "job-1")
    gate.check_job("job-1", meta, "site-a")
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    assert site.jobs.get("job-1").state is JobState.RUNNING
    return site, EgressGuard(context=context)


def _job_ctx(task_id: str = "task-1") -> FLContext:
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_ID, task_id, private=True, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_NAME, "train", private=True, sticky=False)
    return fl_ctx


def _run_task(guard: EgressGuard, result: Shareable, task_id: str = "task-1") -> Shareable:
    """The client runner's sequence: task data filtered, executor ran, result filtered, then sent."""
    fl_ctx = _job_ctx(task_id)
    task = _task_data()
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)
    fl_ctx.set_prop(FLContextKey.TASK_DATA, None, private=True, sticky=False)  # the runner clears it
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, result, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, None, private=True, sticky=False)
    result.set_header(ReservedHeaderKey.TASK_NAME, "train")  # added by the runner after the filters
    result.set_header(ReservedHeaderKey.TASK_ID, task_id)
    guard.handle_event(EventType.BEFORE_SEND_TASK_RESULT, fl_ctx)
    return result


def _decisions(site: object) -> list[tuple[bool, str]]:
    return [(d.allowed, d.reason) for d in site.jobs.egress("job-1")]  # type: ignore[attr-defined]


def test_clean_update_passes_and_is_recorded(site_and_guard) -> None:  # type: ignore[no-untyped-def]
    site, guard = site_and_guard
    result = _run_task(guard, _result(_update()))
    assert result.get_return_code() == ReturnCode.OK
    assert set(result["DXO"]["data"]) == set(GLOBAL)
    assert _decisions(site) == [(True, "passed: WEIGHT_DIFF with 2 entries")]


def test_torch_tensors_pass_like_arrays(site_and_guard) -> None:  # type: ignore[no-untyped-def]
    _site, guard = site_and_guard
    data = {k: torch.full(v.shape, 0.5, dtype=torch.float32) for k, v in GLOBAL.items()}
    assert _run_task(guard, _result(data)).get_return_code() == ReturnCode.OK


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_update(secret=np.zeros((3,), dtype=np.float32)), "unexpected tensor names (1 of 3)"),
        (
            {"encoder.weight": np.array([[PHI_NAME] * 3] * 4), "classifier.bias": np.zeros(3, np.float32)},
            "not a numeric",
        ),
        ({**_update(), "classifier.bias": np.zeros((4,), dtype=np.float32)}, "shape [4], expected [3]"),
        ({**_update(), "classifier.bias": np.zeros((3,), dtype=np.float64)}, "dtype float64, expected float32"),
        ({**_update(), "classifier.bias": PHI_FNR.encode()}, "not a numeric"),
        ({**_update(), "classifier.bias": np.array([PHI_NAME], dtype=object)}, "not a numeric"),
    ],
)
def test_smuggled_strings_extra_keys_and_wrong_forms_are_blocked(site_and_guard, data, reason) -> None:  # type: ignore[no-untyped-def]
    site, guard = site_and_guard
    result = _run_task(guard, _result(data))
    assert result.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "DXO" not in result and set(result) == {ReservedHeaderKey.HEADERS}
    allowed, recorded = _decisions(site)[-1]
    assert not allowed and reason in recorded


def test_metrics_only_whitelisted_numbers(site_and_guard) -> None:  # type: ignore[no-untyped-def]
    site, guard = site_and_guard
    ok = _run_task(guard, _result({"f1": 0.8, "loss": np.float32(0.3)}, {}, DataKind.METRICS), "t-ok")
    assert ok.get_return_code() == ReturnCode.OK
    bad = _run_task(guard, _result({"f1": 0.8, "patient": 1.0}, {}, DataKind.METRICS), "t-bad")
    assert bad.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    text = _run_task(guard, _result({"f1": PHI_NAME}, {}, DataKind.METRICS), "t-text")
    assert text.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert [a for a, _ in _decisions(site)] == [True, False, False]


def test_a_change_after_the_filters_is_caught_before_sending(site_and_guard) -> None:  # type: ignore[no-untyped-def]
    site, guard = site_and_guard
    result = _result(_update())
    fl_ctx = _job_ctx()
    fl_ctx.set_prop(FLContextKey.TASK_DATA, _task_data(), private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, result, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    result["DXO"]["meta"]["note"] = PHI_NAME  # job code kept a reference and wrote into it later
    result.set_header(ReservedHeaderKey.TASK_ID, "task-1")
    guard.handle_event(EventType.BEFORE_SEND_TASK_RESULT, fl_ctx)
    assert result.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert result.get_header(ReservedHeaderKey.TASK_ID) == "task-1"  # the server can still match the reply
    assert "DXO" not in result
    assert [a for a, _ in _decisions(site)] == [True, False]


def test_model_result_without_a_known_global_model_is_blocked() -> None:
    assert (
        check_result(_result(_update()), None, EgressPolicy()) == "no global model was seen to compare the result with"
    )


def test_schema_comes_from_the_global_model() -> None:
    schema = schema_of(_task_data())
    assert (
        schema is not None and schema["encoder.weight"].shape == (4, 3) and schema["encoder.weight"].dtype == "float32"
    )


def test_synthetic_phi_never_reaches_logs_audit_or_the_wire(site_and_guard, caplog) -> None:  # type: ignore[no-untyped-def]
    """A training result carrying a name and a fødselsnummer in its metrics, meta, headers and key names."""
    site, guard = site_and_guard
    caplog.set_level(logging.DEBUG)
    attempts = [
        _result(_update(), {MetaKey.NUM_STEPS_CURRENT_ROUND: 3, "patient": PHI_NAME}),
        _result(_update(), {MetaKey.INITIAL_METRICS: {"f1": 0.9, "fnr": PHI_FNR}}),
        _result(_update(**{f"{PHI_NAME} {PHI_FNR}": np.zeros(3, np.float32)})),
        _result({"f1": 0.5, PHI_FNR: 1.0}, {}, DataKind.METRICS),
        _result(_update(), {MetaKey.FILTER_HISTORY: [PHI_NAME]}),
    ]
    header_smuggle = _result(_update())
    header_smuggle.set_header("comment", f"{PHI_NAME} {PHI_FNR}")
    attempts.append(header_smuggle)

    sent = [_run_task(guard, r, f"task-{i}") for i, r in enumerate(attempts)]

    wire = b"".join(pickle.dumps(dict(s)) for s in sent)
    audit = repr([r.to_json() for r in site.audit.records()])
    registry = repr(site.jobs.egress("job-1"))
    for needle in (PHI_NAME, PHI_FNR, "Nordmann"):
        assert needle.encode() not in wire
        assert needle not in caplog.text
        assert needle not in audit
        assert needle not in registry
    assert all(s.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR for s in sent)
    assert len(site.jobs.egress("job-1")) == len(attempts)


def test_site_components_do_nothing_in_a_server_process(site_and_guard) -> None:  # type: ignore[no-untyped-def]
    """The simulator copies one local/ folder to the server too: the guard must not judge what a server receives."""
    site, guard = site_and_guard
    fl_ctx = _job_ctx()
    fl_ctx.set_prop(FLContextKey.PROCESS_TYPE, ProcessType.SERVER_JOB, private=True, sticky=False)
    received = _result(_update(secret=np.zeros((3,), dtype=np.float32)))
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, received, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    assert received.get_return_code() == ReturnCode.OK and "DXO" in received
    assert _decisions(site) == []


# -- the site's own signed approval receipt: the one text entry that may leave, and only exactly as issued ---------


@pytest.fixture
def receipt_guard(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A running job, a guard whose site signs receipts, and the receipt it issued for the job."""
    home = tmp_path / "signing-site"
    home.mkdir()
    site = new_site(home)
    issuer = ReceiptIssuer(site=SITE, jobs=site.jobs, key=site.key, audit=site.audit)
    context = replace(context_for(site), receipts=issuer)
    gate = ApprovalGate(context=context)
    gate.check_job("job-1", server_meta(make_job(home), "job-1"), SITE)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    receipt = issuer.for_job("job-1")
    assert receipt is not None
    return site, EgressGuard(context=context), receipt


def _with_receipt(receipt: object) -> Shareable:
    return _result(_update(), {MetaKey.NUM_STEPS_CURRENT_ROUND: 12, RECEIPT_META_KEY: receipt})


def test_the_sites_own_receipt_passes_and_its_issue_is_audited(receipt_guard) -> None:  # type: ignore[no-untyped-def]
    site, guard, receipt = receipt_guard
    sent = _run_task(guard, _with_receipt(receipt))
    assert sent.get_return_code() == ReturnCode.OK
    assert sent["DXO"]["meta"][RECEIPT_META_KEY]["body"]["job_digest"] == site.jobs.get("job-1").manifest.digest
    assert _decisions(site)[-1][0] is True
    issued = [r for r in site.audit.records() if r.event == "receipt:issued"]
    assert len(issued) == 1 and issued[0].job_id == "job-1"


def _resigned(receipt: dict, key: SiteKey, **body_changes: object) -> dict:  # type: ignore[type-arg]
    """The receipt with its body changed and signed again with ``key`` (a forgery by code that holds a key)."""
    body = {**receipt["body"], **body_changes}
    return {"body": body, "key_id": key.key_id, "signature": key.sign(_receipt_message(body, key.key_id))}


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda r, k: PHI_NAME, "not a signed receipt object"),
        (lambda r, k: {**r, "note": PHI_NAME}, "not a signed receipt object"),
        (lambda r, k: {**r, "body": {**r["body"], "note": PHI_NAME}}, "missing or unexpected entries"),
        (lambda r, k: {**r, "body": {**r["body"], "study": f"{PHI_NAME}\n{PHI_FNR}"}}, "names are not identifiers"),
        (lambda r, k: {**r, "body": {**r["body"], "job_digest": PHI_FNR}}, "not a sha256"),
        (lambda r, k: {**r, "body": {**r["body"], "study": PHI_NAME}}, "not signed by this site's key"),
        (lambda r, k: _resigned(r, k, study=PHI_NAME), "not the one this site issued"),
        (lambda r, k: _resigned(r, SiteKey.generate(), study=PHI_NAME), "not signed by this site's key"),
        (lambda r, k: _resigned(r, k, job_id="job-2"), "another site or job"),
    ],
    ids=["text", "extra-key", "extra-body-key", "multi-line-study", "digest", "edited", "re-signed", "foreign", "job"],
)
def test_anything_but_the_issued_receipt_is_blocked(receipt_guard, forge, reason) -> None:  # type: ignore[no-untyped-def]
    site, guard, receipt = receipt_guard
    sent = _run_task(guard, _with_receipt(forge(receipt, site.key)))
    assert sent.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR and "DXO" not in sent
    allowed, recorded = _decisions(site)[-1]
    assert not allowed and reason in recorded
    assert PHI_NAME not in recorded and PHI_FNR not in recorded


def test_a_guard_without_the_sites_signer_blocks_any_receipt(site_and_guard, receipt_guard) -> None:  # type: ignore[no-untyped-def]
    site, guard = site_and_guard
    _other, _g, receipt = receipt_guard
    sent = _run_task(guard, _with_receipt(receipt))
    assert sent.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "no site key here" in _decisions(site)[-1][1]
