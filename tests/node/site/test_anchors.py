"""The site's audit head on the way out and the coordinator's countersignature on the way back (issue 14): a result
may carry exactly a head this site signed, nothing else; the countersigned anchor that comes with the next task is
checked against the coordinator key pinned in the kit, kept in state.db, and removed before job code sees it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from nvflare.apis.dxo import DXO, DataKind, MetaKey
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, ReservedKey, ReturnCode
from nvflare.apis.shareable import ReservedHeaderKey, Shareable
from nvflare.app_common.app_constant import AppConstants

from node.kit.layout import COORDINATOR_PUBLIC_KEY
from node.kit.meta import ANCHORS_META_KEY, HEAD_META_KEY
from node.site.anchors import SiteAnchors
from node.site.egress.guard import EgressGuard
from node.site.gate import ApprovalGate
from node.site.receipts import ReceiptIssuer
from policies.anchors import Anchor, AnchorStore, countersign
from policies.audit import SignedHead
from policies.keys import SiteKey
from tests.node.sitekit import SITE, context_for, ctx, make_job, new_site, server_meta

PHI_NAME = "Kari Nordmann-Bjørnstad"  # synthetic
GLOBAL = {"encoder.weight": np.zeros((4, 3), dtype=np.float32), "classifier.bias": np.zeros((3,), dtype=np.float32)}
COORDINATOR = SiteKey.generate()


def _task_data(meta: dict[str, object] | None = None) -> Shareable:
    s = DXO(DataKind.WEIGHTS, {k: v.copy() for k, v in GLOBAL.items()}, meta or {}).to_shareable()
    s.set_header(AppConstants.CURRENT_ROUND, 2)
    return s


def _result(meta: dict[str, object]) -> Shareable:
    data = {k: np.full(v.shape, 0.01, dtype=v.dtype) for k, v in GLOBAL.items()}
    s = DXO(DataKind.WEIGHT_DIFF, data, {MetaKey.NUM_STEPS_CURRENT_ROUND: 12, **meta}).to_shareable()
    s.set_header(AppConstants.CURRENT_ROUND, 2)
    return s


def _run(guard: EgressGuard, task: Shareable, result: Shareable) -> Shareable:
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_ID, "task-1", private=True, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_NAME, "train", private=True, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, result, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    result.set_header(ReservedHeaderKey.TASK_NAME, "train")
    result.set_header(ReservedHeaderKey.TASK_ID, "task-1")
    guard.handle_event(EventType.BEFORE_SEND_TASK_RESULT, fl_ctx)
    return result


@pytest.fixture
def signing_site(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A running job at a site that signs receipts and heads and keeps anchors; (site, guard, issuer, store)."""
    site = new_site(tmp_path)
    issuer = ReceiptIssuer(site=SITE, jobs=site.jobs, key=site.key, audit=site.audit)
    store = AnchorStore(site.store)
    anchors = SiteAnchors(site=SITE, store=store, site_key_id=site.key.key_id, coordinator_key=COORDINATOR.public_key)
    context = replace(context_for(site), receipts=issuer, anchors=anchors)
    ApprovalGate(context=context).check_job("job-1", server_meta(make_job(tmp_path), "job-1"), SITE)
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    return site, EgressGuard(context=context), issuer, store


def _last_decision(site: object) -> tuple[bool, str]:
    d = site.jobs.egress("job-1")[-1]  # type: ignore[attr-defined]
    return d.allowed, d.reason


# --- the head leaving with a result ------------------------------------------------------------------------------


def test_a_head_this_site_signed_leaves_with_the_result(signing_site) -> None:  # type: ignore[no-untyped-def]
    site, guard, issuer, _ = signing_site
    head = issuer.signed_head()
    assert head is not None
    sent = _run(guard, _task_data(), _result({HEAD_META_KEY: head}))
    assert sent.get_return_code() == ReturnCode.OK
    left = SignedHead.from_json(sent["DXO"]["meta"][HEAD_META_KEY])
    left.verify(site.key.public_key)
    assert left.site == SITE and 0 < left.seq < site.audit.head()[0]  # the egress decision came after it


def _resigned(head: dict, key: SiteKey, **changes: object) -> dict:  # type: ignore[type-arg]
    h = {**head, **changes}
    return SignedHead.sign(key, site=h["site"], seq=h["seq"], hash_=h["hash"], at=h["at"]).to_json()


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda h, k: PHI_NAME, "not a signed head object"),
        (lambda h, k: {**h, "note": PHI_NAME}, "not a signed head object"),
        (lambda h, k: {**h, "hash": "f" * 64}, "not signed by this site's key"),
        (lambda h, k: _resigned(h, k, seq=h["seq"] + 1), "not one this site signed"),
        (lambda h, k: _resigned(h, SiteKey.generate()), "not signed by this site's key"),
        (lambda h, k: _resigned(h, k, site="site-b"), "another site"),
        (lambda h, k: {**h, "at": PHI_NAME}, "time or key id is malformed"),
    ],
    ids=["text", "extra-key", "edited", "re-signed", "foreign-key", "other-site", "text-in-time"],
)
def test_anything_but_a_head_this_site_signed_is_blocked(signing_site, forge, reason) -> None:  # type: ignore[no-untyped-def]
    site, guard, issuer, _ = signing_site
    head = issuer.signed_head()
    sent = _run(guard, _task_data(), _result({HEAD_META_KEY: forge(head, site.key)}))
    assert sent.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR and "DXO" not in sent
    allowed, recorded = _last_decision(site)
    assert not allowed and reason in recorded and PHI_NAME not in recorded


def test_other_extra_meta_is_still_blocked_beside_a_valid_head(signing_site) -> None:  # type: ignore[no-untyped-def]
    site, guard, issuer, _ = signing_site
    sent = _run(guard, _task_data(), _result({HEAD_META_KEY: issuer.signed_head(), "fednode_audit_tail": PHI_NAME}))
    assert sent.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert _last_decision(site) == (False, "unexpected meta entry")


def test_a_guard_without_the_sites_signer_blocks_a_head(signing_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _site, _guard, issuer, _ = signing_site
    other = new_site(tmp_path / "other")
    guard = EgressGuard(context=context_for(other))
    ApprovalGate(context=context_for(other)).check_job(
        "job-1", server_meta(make_job(tmp_path / "other"), "job-1"), SITE
    )
    other.jobs.approve("job-1", "dr.hansen", "ok")
    other.jobs.mark_running("job-1")
    sent = _run(guard, _task_data(), _result({HEAD_META_KEY: issuer.signed_head()}))
    assert sent.get_return_code() == ReturnCode.EXECUTION_RESULT_ERROR
    assert "no site key here" in _last_decision(other)[1]


# --- the countersignature coming back with a task ------------------------------------------------------------------


def _anchor_of(head: dict[str, object], key: SiteKey = COORDINATOR) -> dict[str, object]:
    return countersign(SignedHead.from_json(head), key, at="2026-12-05T10:00:00.000000+00:00").to_json()


def test_the_sites_countersigned_anchor_is_kept_and_removed_from_the_task(signing_site) -> None:  # type: ignore[no-untyped-def]
    _site, guard, issuer, store = signing_site
    head = issuer.signed_head()
    other = SignedHead.sign(SiteKey.generate(), site="site-b", seq=3, hash_="b" * 64, at=head["at"]).to_json()
    task = _task_data({ANCHORS_META_KEY: {SITE: _anchor_of(head), "site-b": _anchor_of(other)}})
    sent = _run(guard, task, _result({HEAD_META_KEY: issuer.signed_head()}))
    assert sent.get_return_code() == ReturnCode.OK
    assert ANCHORS_META_KEY not in task["DXO"]["meta"]  # neither the executor nor job code sees it
    kept = store.all()
    assert [a.head.to_json() for a in kept] == [head]
    kept[0].verify(COORDINATOR.public_key)
    _run(guard, _task_data({ANCHORS_META_KEY: {SITE: _anchor_of(head)}}), _result({}))
    assert len(store.all()) == 1  # the same anchor again is kept once


@pytest.mark.parametrize(
    "forge",
    [
        lambda h: _anchor_of(h, SiteKey.generate()),  # countersigned by a key that is not the pinned coordinator's
        lambda h: {**_anchor_of(h), "countersigned_at": "2026-12-06T10:00:00.000000+00:00"},  # edited
        lambda h: _anchor_of(_resigned(h, SiteKey.generate())),  # a head of another key (not this site's)
        lambda h: PHI_NAME,
    ],
    ids=["other-coordinator", "edited", "other-site-key", "text"],
)
def test_an_anchor_that_does_not_check_out_is_not_kept(signing_site, forge) -> None:  # type: ignore[no-untyped-def]
    _site, guard, issuer, store = signing_site
    task = _task_data({ANCHORS_META_KEY: {SITE: forge(issuer.signed_head())}})
    sent = _run(guard, task, _result({}))
    assert sent.get_return_code() == ReturnCode.OK  # the task still runs
    assert ANCHORS_META_KEY not in task["DXO"]["meta"]
    assert store.all() == []


def test_the_coordinator_key_comes_from_the_kit_not_the_task(signing_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site, _guard, issuer, store = signing_site
    local = tmp_path / "kit" / "local"
    local.mkdir(parents=True)
    anchors = SiteAnchors(site=SITE, store=store, site_key_id=site.key.key_id, local_dirs=(local,))
    head = issuer.signed_head()
    assert anchors.take({ANCHORS_META_KEY: {SITE: _anchor_of(head)}}) is None  # no pinned key: nothing kept
    (local / COORDINATOR_PUBLIC_KEY).write_text(COORDINATOR.public_pem, encoding="ascii")
    anchors = SiteAnchors(site=SITE, store=store, site_key_id=site.key.key_id, local_dirs=(local,))
    kept = anchors.take({ANCHORS_META_KEY: {SITE: _anchor_of(head)}})
    assert isinstance(kept, Anchor) and store.latest() == kept
