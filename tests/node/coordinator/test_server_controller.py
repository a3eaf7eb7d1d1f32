"""The coordinator workflow without processes: turning results into updates, the job digest, a study that ends
when every result of a round is refused, and the sites' signed receipts in the signed model's provenance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from fednode.errors import ConfigError, QuorumNotMetError, ServiceError, SignatureError
from node.coordinator.controller import APPROVAL_META_KEY, FednodeController
from node.coordinator.model import build_initial_state, from_wire, state_nbytes, to_wire
from node.coordinator.provenance import approvals_from_meta, job_digest_from_meta
from node.coordinator.run_status import read_run_status
from node.coordinator.signing import verify_signed_model
from node.coordinator.study import APP_NAME, StudySpec, build_job, find_model_folder
from node.ml.aggregation import ClientUpdate
from policies.manifest import embed_manifest, folder_digest
from policies.receipts import issue_receipt
from tests.node.coordinator.controller_harness import JOB_ID, drive
from tests.policies.statekit import ALLOW as STATE_ALLOW
from tests.policies.statekit import make_site, manifest

STATE = {"w": torch.zeros(2, 2), "b": torch.ones(2), "steps": torch.tensor([3])}


def _result(site: str, params: dict[str, np.ndarray], kind: ParamsType, n: int = 5) -> FLModel:
    return FLModel(
        params=params,
        params_type=kind,
        metrics={"loss": 0.5, "tag": "x"},
        meta={"client_name": site, "num_examples": n},
    )


def test_full_and_diff_results_become_the_same_update() -> None:
    ctl = FednodeController(num_rounds=1, min_clients=1)
    full = _result(
        "site-1",
        {"w": np.full((2, 2), 0.5, np.float32), "b": np.full(2, 1.5, np.float32), "steps": np.array([9])},
        ParamsType.FULL,
    )
    diff = _result(
        "site-2", {"w": np.full((2, 2), 0.5, np.float32), "b": np.full(2, 0.5, np.float32)}, ParamsType.DIFF, n=7
    )
    updates, metrics = ctl._collect([full, diff], STATE)
    by_site = {u.site: u for u in updates}
    assert set(by_site["site-1"].update) == {"w", "b"}  # integer buffers are not averaged
    for u in updates:
        assert torch.allclose(u.update["w"], torch.full((2, 2), 0.5))
        assert torch.allclose(u.update["b"], torch.full((2,), 0.5))
    assert by_site["site-2"].num_examples == 7
    assert metrics == {"site-1": {"loss": 0.5}, "site-2": {"loss": 0.5}}  # text never enters the record


def test_empty_or_anonymous_results_are_skipped() -> None:
    ctl = FednodeController(num_rounds=1, min_clients=1)
    empty = FLModel(params={}, meta={"client_name": "site-1"})
    anonymous = FLModel(params={"w": np.zeros((2, 2), np.float32)}, params_type=ParamsType.FULL)
    updates, _ = ctl._collect([empty, anonymous], STATE)
    assert updates == []


def test_the_quorum_refuses_a_round_with_too_few_updates() -> None:
    ctl = FednodeController(num_rounds=1, min_clients=2, algorithm="median")
    agg = ctl._make_aggregator(total_sites=3)
    with pytest.raises(QuorumNotMetError):
        agg.aggregate([ClientUpdate("site-1", {"w": torch.ones(2)}, 1)])


def test_an_unknown_rule_or_bad_counts_are_refused() -> None:
    with pytest.raises(ConfigError):
        FednodeController(algorithm="mean-of-vibes")._make_aggregator(2)
    with pytest.raises(ValueError):
        FednodeController(min_clients=0)


def test_wire_format_round_trips() -> None:
    wire = to_wire(STATE)
    assert all(isinstance(v, np.ndarray) for v in wire.values())
    back = from_wire(wire)
    assert all(torch.equal(back[k], STATE[k]) for k in STATE)
    assert state_nbytes(wire) == state_nbytes(STATE) == 4 * 4 + 2 * 4 + 8
    with pytest.raises(ConfigError):
        from_wire({"w": "not an array"})


def test_the_provenance_digest_is_the_one_the_sites_reviewed(tmp_path: Path) -> None:
    job, digest = build_job(StudySpec(name="s", sites=("site-1", "site-2")), tmp_path)
    meta = json.loads((job / "meta.json").read_text())
    assert job_digest_from_meta(meta) == digest == folder_digest(job / APP_NAME)
    assert job_digest_from_meta({}) == ""
    assert set(approvals_from_meta(meta)) == {"site-1", "site-2"}
    (job / APP_NAME / "config" / "extra.json").write_text("{}")
    embed_manifest(job)
    assert job_digest_from_meta(json.loads((job / "meta.json").read_text())) != digest


# -- the workflow end to end on a fake engine (tests/node/coordinator/controller_harness.py) ---------------------------

SITES2 = ("site-1", "site-2")
TINY = build_initial_state("tiny")


def _tiny_update(site: str, delta: float = 0.01, **meta: object) -> FLModel:
    """A site's WEIGHT_DIFF for the tiny model: ``delta`` on every floating-point entry."""
    params = {k: np.full(v.shape, delta, np.float32) for k, v in TINY.items() if torch.is_floating_point(v)}
    return FLModel(params=params, params_type=ParamsType.DIFF, meta={"client_name": site, "num_examples": 10, **meta})


@pytest.mark.parametrize(
    "answer",
    [
        lambda _r, _t: [],  # every site's result refused (egress-blocked at the site): NVFlare hands back none
        lambda _r, _t: [FLModel(params={}, meta={"client_name": s}) for s in SITES2],  # empty results, rejected here
    ],
    ids=["all-blocked-at-sites", "all-rejected-here"],
)
def test_a_round_with_every_result_refused_ends_the_study_with_its_reason(tmp_path: Path, answer) -> None:  # type: ignore[no-untyped-def]
    ctl = FednodeController(num_rounds=3, min_clients=1, model_spec="tiny")
    run = drive(ctl, tmp_path, SITES2, answer)
    assert run.broadcasts == [0]  # no second round is sent
    assert len(run.panics) == 1 and "round 0: no usable result from any of the 2 sites" in run.panics[0]
    status = read_run_status(run.run_dir)
    assert status is not None and status.failed and status.rounds_done == 0
    assert "refused or blocked" in status.reason
    assert not (run.run_dir / "global_model.safetensors").exists()
    with pytest.raises(ServiceError, match="the study failed after 0 round"):
        find_model_folder(run.run_dir)


def test_a_later_round_refused_by_everyone_also_ends_it(tmp_path: Path) -> None:
    def answer(rnd: int, _task: FLModel) -> list[FLModel]:
        return [_tiny_update(s) for s in SITES2] if rnd == 0 else []

    run = drive(FednodeController(num_rounds=3, min_clients=2, model_spec="tiny"), tmp_path, SITES2, answer)
    assert run.broadcasts == [0, 1] and len(run.panics) == 1 and "round 1" in run.panics[0]
    assert [r["round"] for r in run.rounds()] == [0]
    status = read_run_status(run.run_dir)
    assert status is not None and status.failed and status.rounds_done == 1


def _approved_receipt(tmp_path: Path, site: str, job_id: str, digest: str) -> tuple[dict[str, object], str]:
    """``site``'s signed receipt for the job (a real registry on its own state.db) and its public key."""
    registry = make_site(tmp_path / f"{site}.db")
    registry.jobs.register_pending(manifest(job_id, digest=digest), STATE_ALLOW)
    registry.jobs.approve(job_id, "dr.hansen", "reviewed")
    receipt = issue_receipt(registry.jobs.get(job_id), site=site, key=registry.key, audit_head=registry.audit.head())
    return receipt.to_json(), registry.key.public_pem


def test_each_sites_signed_receipt_lands_in_the_provenance_and_verifies_with_its_key(tmp_path: Path) -> None:
    job, digest = build_job(StudySpec(name="s", sites=SITES2, model_spec="tiny"), tmp_path / "jobs")
    meta = json.loads((job / "meta.json").read_text())
    receipts, keys = {}, {}
    for site in SITES2:
        receipts[site], keys[site] = _approved_receipt(tmp_path, site, JOB_ID, digest)

    def answer(_rnd: int, _task: FLModel) -> list[FLModel]:
        return [_tiny_update(s, **{APPROVAL_META_KEY: receipts[s]}) for s in SITES2]

    run = drive(
        FednodeController(num_rounds=1, min_clients=2, model_spec="tiny"), tmp_path, SITES2, answer, job_meta=meta
    )
    assert run.panics == []
    verified = verify_signed_model(run.run_dir, [run.coordinator_key], expected_job_digest=digest, site_keys=keys)
    assert verified.receipts == SITES2 and verified.receipts_verified == SITES2
    for site in SITES2:
        entry = verified.provenance.approvals[site]
        assert entry["evidence"] == "signed_receipt"
        assert entry["receipt"]["body"]["job_digest"] == digest and entry["receipt"]["body"]["site"] == site
    # a site checks its receipt with its own key: another key is refused
    with pytest.raises(SignatureError, match="site-2's approval receipt"):
        verify_signed_model(run.run_dir, [run.coordinator_key], site_keys={"site-2": keys["site-1"]})


def test_a_receipt_for_another_site_job_or_digest_is_not_recorded(tmp_path: Path) -> None:
    job, digest = build_job(StudySpec(name="s", sites=SITES2, model_spec="tiny"), tmp_path / "jobs")
    meta = json.loads((job / "meta.json").read_text())
    other_site, _ = _approved_receipt(tmp_path / "a", "site-2", JOB_ID, digest)
    other_job, _ = _approved_receipt(tmp_path / "b", "site-2", "job-0", digest)
    other_digest, _ = _approved_receipt(tmp_path / "c", "site-2", JOB_ID, "f" * 64)
    sent = {"site-1": other_site, "site-2": other_job}

    def answer(rnd: int, _task: FLModel) -> list[FLModel]:
        return [_tiny_update(s, **{APPROVAL_META_KEY: other_digest if rnd else sent[s]}) for s in SITES2]

    run = drive(
        FednodeController(num_rounds=2, min_clients=2, model_spec="tiny"), tmp_path, SITES2, answer, job_meta=meta
    )
    verified = verify_signed_model(run.run_dir, [run.coordinator_key], expected_job_digest=digest)
    assert verified.receipts == ()
    assert verified.provenance.approvals == {s: {"evidence": "accepted_for_deploy"} for s in SITES2}
