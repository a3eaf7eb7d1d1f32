"""The coordinator workflow's pieces that need no processes: turning results into updates, the job digest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from fednode.errors import ConfigError, QuorumNotMetError
from node.aggregation import ClientUpdate
from node.flare.manifest import embed_manifest, folder_digest
from node.flare.server.controller import FednodeController
from node.flare.server.model import from_wire, state_nbytes, to_wire
from node.flare.server.provenance import approvals_from_meta, job_digest_from_meta
from node.study import APP_NAME, StudySpec, build_job

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
