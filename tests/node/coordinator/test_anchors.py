"""The sites' audit heads at the coordinator (issue 14): verified against the key pinned at provisioning, kept,
countersigned and sent back with the next task; a head by another key, one that goes backwards and one that forks
are tamper alarms that refuse that site's result; the signed model's provenance holds each site's last head."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from fednode.errors import AuditChainError
from node.coordinator.anchors import ANCHORS_DIR, HEADS_FILE, AnchorBook, pinned_site_keys
from node.coordinator.controller import FednodeController
from node.coordinator.model import build_initial_state
from node.coordinator.signing import verify_signed_model
from node.kit.layout import COORDINATOR_KEY_DIR, SITE_KEYS_DIR
from node.kit.meta import ANCHORS_META_KEY, HEAD_META_KEY
from policies.anchors import Anchor
from policies.audit import AuditEvent, SignedHead, find_heads
from policies.keys import SiteKey, load_or_create_site_key, load_public_key
from tests.node.coordinator.controller_harness import drive
from tests.policies.statekit import Site, make_site

SITES2 = ("site-1", "site-2")
TINY = build_initial_state("tiny")
T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def _at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def _head(key: SiteKey, seq: int, at: int, *, site: str = "site-1", hash_: str | None = None) -> SignedHead:
    return SignedHead.sign(key, site=site, seq=seq, hash_=hash_ or f"{seq:064x}", at=_at(at))


@pytest.fixture
def book(tmp_path: Path) -> tuple[AnchorBook, SiteKey, SiteKey]:
    """A book with site-1's key pinned; (book, site-1's key, the coordinator's key)."""
    site_key, coordinator = SiteKey.generate(), SiteKey.generate()
    return AnchorBook(tmp_path / ANCHORS_DIR, {"site-1": site_key.public_key}, coordinator), site_key, coordinator


def test_a_head_by_the_pinned_key_is_kept_and_countersigned(book) -> None:  # type: ignore[no-untyped-def]
    anchors, site_key, coordinator = book
    head = _head(site_key, 4, 1)
    anchor = anchors.accept("site-1", head.to_json())
    assert anchor is not None and anchor.head == head
    anchor.verify(coordinator.public_key)  # the countersignature is the coordinator's
    assert [a.head for a in anchors.heads("site-1")] == [head]
    assert find_heads(json.loads((anchors.folder / "site-1.jsonl").read_text())) == [head]  # audit verify reads it


def test_a_head_by_any_other_key_is_refused_even_when_it_names_the_site(book) -> None:  # type: ignore[no-untyped-def]
    anchors, _site_key, _ = book
    with pytest.raises(AuditChainError, match="not the pinned key"):
        anchors.accept("site-1", _head(SiteKey.generate(), 4, 1).to_json())
    assert anchors.heads("site-1") == []


@pytest.mark.parametrize(
    ("second", "match"),
    [
        ((3, 9, None), "went backwards"),  # a lower seq signed later: the chain was cut back
        ((4, 9, "e" * 64), "another hash"),  # a fork: the same seq with another hash
    ],
    ids=["backwards", "fork"],
)
def test_a_head_that_goes_backwards_or_forks_is_a_tamper_alarm(book, second, match) -> None:  # type: ignore[no-untyped-def]
    anchors, site_key, _ = book
    anchors.accept("site-1", _head(site_key, 4, 5).to_json())
    seq, at, hash_ = second
    with pytest.raises(AuditChainError, match=f"tamper alarm.*{match}"):
        anchors.accept("site-1", _head(site_key, seq, at, hash_=hash_).to_json())
    assert [a.head.seq for a in anchors.heads("site-1")] == [4]


def test_a_late_head_of_a_concurrent_job_is_kept(book) -> None:  # type: ignore[no-untyped-def]
    anchors, site_key, _ = book
    anchors.accept("site-1", _head(site_key, 9, 5).to_json())
    assert anchors.accept("site-1", _head(site_key, 7, 3).to_json()) is not None  # signed before seq 9: only late
    last = anchors.last("site-1")
    assert last is not None and last.head.seq == 9


def test_a_pinned_site_must_send_a_well_formed_head_of_its_own(book) -> None:  # type: ignore[no-untyped-def]
    anchors, site_key, _ = book
    with pytest.raises(AuditChainError, match="carries no signed audit head"):
        anchors.accept("site-1", None)
    with pytest.raises(AuditChainError, match="malformed"):
        anchors.accept("site-1", {"type": "audit-head", "seq": "x"})
    with pytest.raises(AuditChainError, match="another site"):
        anchors.accept("site-1", _head(site_key, 1, 1, site="site-2").to_json())
    assert anchors.accept("site-9", None) is None  # nothing pinned for it: nothing to check with


# --- through the controller ------------------------------------------------------------------------------------


def _pin(root: Path, sites: dict[str, Site]) -> None:
    folder = root / SITE_KEYS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, site in sites.items():
        (folder / f"{name}.pub").write_text(site.key.public_pem, encoding="ascii")


def _site_result(name: str, site: Site, head: dict[str, object] | None = None) -> FLModel:
    """A site's WEIGHT_DIFF with a fresh signed head of its audit chain (after one more record)."""
    site.audit.append(AuditEvent.EGRESS_ALLOWED, actor="egress_guard", job_id="job-7")
    signed = SignedHead.sign(site.key, site=name, seq=site.audit.head()[0], hash_=site.audit.head()[1], at=_now(site))
    params = {k: np.full(v.shape, 0.01, np.float32) for k, v in TINY.items() if torch.is_floating_point(v)}
    meta = {"client_name": name, "num_examples": 10, HEAD_META_KEY: head if head is not None else signed.to_json()}
    return FLModel(params=params, params_type=ParamsType.DIFF, meta=meta)


def _now(site: Site) -> str:
    return site.clock().isoformat(timespec="microseconds")


def test_heads_are_kept_countersigned_sent_back_and_end_in_the_provenance(tmp_path: Path) -> None:
    sites = {n: make_site(tmp_path / f"{n}.db") for n in SITES2}
    _pin(tmp_path, sites)
    tasks: list[FLModel] = []

    def answer(_rnd: int, task: FLModel) -> list[FLModel]:
        tasks.append(task)
        return [_site_result(n, s) for n, s in sites.items()]

    run = drive(FednodeController(num_rounds=2, min_clients=2, model_spec="tiny"), tmp_path, SITES2, answer)
    assert run.panics == []
    assert ANCHORS_META_KEY not in (tasks[0].meta or {})  # nothing kept yet
    coordinator = load_public_key(run.coordinator_key)
    sent = tasks[1].meta[ANCHORS_META_KEY]  # round 1 carries each site's countersigned round-0 head
    for name, site in sites.items():
        anchor = Anchor.from_json(sent[name])
        anchor.verify(coordinator)
        anchor.head.verify(site.key.public_key)
    verified = verify_signed_model(run.run_dir, [run.coordinator_key])
    heads = verified.provenance.audit_heads
    assert set(heads) == set(SITES2)
    for name, site in sites.items():
        last = Anchor.from_json(heads[name])
        last.verify(coordinator)
        assert last.head.seq == site.audit.head()[0] and last.head.hash == site.audit.head()[1]
    kept = json.loads((run.run_dir / HEADS_FILE).read_text())["heads"]
    assert {n: len(v) for n, v in kept.items()} == {"site-1": 2, "site-2": 2}
    assert len((tmp_path / ANCHORS_DIR / "site-1.jsonl").read_text().splitlines()) == 2  # kept across jobs


@pytest.mark.parametrize("tamper", ["unpinned-key", "backwards", "fork"])
def test_a_sites_result_with_a_bad_head_is_refused_and_the_others_go_on(tmp_path: Path, tamper: str) -> None:
    sites = {n: make_site(tmp_path / f"{n}.db") for n in SITES2}
    _pin(tmp_path, sites)
    first: dict[str, SignedHead] = {}

    def bad_head(rnd: int) -> dict[str, object] | None:
        site = sites["site-2"]
        if rnd == 0:
            return None
        if tamper == "unpinned-key":
            return SignedHead.sign(SiteKey.generate(), site="site-2", seq=1, hash_="a" * 64, at=_now(site)).to_json()
        if tamper == "backwards":  # the chain cut back to an earlier record, signed now
            return SignedHead.sign(site.key, site="site-2", seq=0, hash_="0" * 64, at=_now(site)).to_json()
        kept = first["site-2"]  # the same seq, another hash: the chain was rewritten
        return SignedHead.sign(site.key, site="site-2", seq=kept.seq, hash_="f" * 64, at=_now(site)).to_json()

    def answer(rnd: int, _task: FLModel) -> list[FLModel]:
        results = [_site_result(n, s, bad_head(rnd) if n == "site-2" else None) for n, s in sites.items()]
        if rnd == 0:
            first.update({r.meta["client_name"]: SignedHead.from_json(r.meta[HEAD_META_KEY]) for r in results})
        return results

    run = drive(FednodeController(num_rounds=2, min_clients=1, model_spec="tiny"), tmp_path, SITES2, answer)
    assert run.panics == []
    rounds = run.rounds()
    assert rounds[0]["sites"] == ["site-1", "site-2"]
    assert rounds[1]["sites"] == ["site-1"] and rounds[1]["rejected"] == ["site-2"]
    heads = verify_signed_model(run.run_dir, [run.coordinator_key]).provenance.audit_heads
    assert Anchor.from_json(heads["site-2"]).head == first["site-2"]  # the refused head was not kept


def test_every_result_refused_by_its_head_ends_the_study_with_the_reason(tmp_path: Path) -> None:
    sites = {n: make_site(tmp_path / f"{n}.db") for n in SITES2}
    _pin(tmp_path, sites)
    stranger = SiteKey.generate()

    def answer(_rnd: int, _task: FLModel) -> list[FLModel]:
        forged = {
            n: SignedHead.sign(stranger, site=n, seq=1, hash_="a" * 64, at=_now(s)).to_json() for n, s in sites.items()
        }
        return [_site_result(n, s, forged[n]) for n, s in sites.items()]

    run = drive(FednodeController(num_rounds=2, min_clients=1, model_spec="tiny"), tmp_path, SITES2, answer)
    assert len(run.panics) == 1 and "every result was refused" in run.panics[0] and "pinned key" in run.panics[0]


def test_an_unpinned_federation_runs_without_anchors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sites = {n: make_site(tmp_path / f"{n}.db") for n in SITES2}

    def answer(_rnd: int, _task: FLModel) -> list[FLModel]:
        return [_site_result(n, s) for n, s in sites.items()]

    run = drive(FednodeController(num_rounds=2, min_clients=2, model_spec="tiny"), tmp_path, SITES2, answer)
    assert run.panics == []
    unpinned = [r.getMessage() for r in caplog.records if "fednode.anchors_unpinned" in r.getMessage()]
    assert len(unpinned) == 2  # said once per site, not every round
    assert verify_signed_model(run.run_dir, [run.coordinator_key]).provenance.audit_heads == {}
    assert pinned_site_keys(tmp_path) == {}


def test_the_book_uses_the_coordinators_signing_key(tmp_path: Path) -> None:
    key = load_or_create_site_key(tmp_path / COORDINATOR_KEY_DIR)
    site_key = SiteKey.generate()
    anchors = AnchorBook(tmp_path / ANCHORS_DIR, {"site-1": site_key.public_key}, key)
    anchor = anchors.accept("site-1", _head(site_key, 1, 1).to_json())
    assert anchor is not None and anchor.coordinator_key_id == key.key_id
