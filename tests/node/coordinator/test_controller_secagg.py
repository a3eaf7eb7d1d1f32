"""Secure aggregation inside the coordinator's FLARE workflow: the extra stages run around the train task, the
model moves by exactly the FedAvg of the sites' updates, a site that drops after sharing is recovered and named in
the signed provenance, and a study that combines it with a robust aggregator is refused before any round."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from node.coordinator.controller import FednodeController
from node.coordinator.model import build_initial_state
from node.coordinator.signing import verify_signed_model
from node.ml.secagg import META_KEY, RoundContext, SecAggClient
from tests.node.coordinator.controller_harness import JOB_ID, drive
from tests.node.ml.secagg_support import Pki

SITES = ("site-1", "site-2", "site-3")
COUNTS = {"site-1": 30, "site-2": 10, "site-3": 20}


class Sites:
    """The three sites' protocol clients, answering each stage as the site executor and egress guard would."""

    def __init__(self, pki: Pki, updates: Mapping[tuple[int, str], Mapping[str, np.ndarray[Any, Any]]]) -> None:
        self.pki = pki
        self.updates = updates
        self.identities = {s: pki.identity(s) for s in SITES}
        self.clients: dict[str, SecAggClient] = {}
        self.stages: list[str] = []
        self.drop: dict[int, str] = {}

    def answer(self, rnd: int, task: FLModel) -> list[FLModel]:
        payload = (task.meta or {}).get(META_KEY)
        assert isinstance(payload, Mapping), "every task of a securely aggregated study carries a stage"
        stage = str(payload["stage"])
        self.stages.append(stage)
        replies: dict[str, Any] = {}
        params: dict[str, Any] = {}
        if stage == "advertise":
            ctx = RoundContext.from_json(payload["context"])
            assert ctx.job_id == JOB_ID and ctx.round == rnd
            self.clients = {s: SecAggClient(self.identities[s], self.pki.anchor, ctx) for s in SITES}
            replies = {
                s: {"stage": stage, "round": rnd, "advert": c.advertise(COUNTS[s])} for s, c in self.clients.items()
            }
        elif stage == "share":
            replies = {
                s: {"stage": stage, "round": rnd, "shares": c.share(payload["adverts"])}
                for s, c in self.clients.items()
            }
        elif stage == "masked":
            for s, c in self.clients.items():
                if self.drop.get(rnd) != s:
                    params[s] = c.mask(self.updates[rnd, s], payload["shares"][s])
                    replies[s] = {"stage": stage, "round": rnd}
        else:
            replies = {
                s: {"stage": stage, "round": rnd, "shares": self.clients[s].unmask(payload["survivors"])}
                for s in payload["survivors"]
            }
        return [
            FLModel(
                params=params.get(s, {}),
                params_type=ParamsType.DIFF,
                meta={"client_name": s, "num_examples": COUNTS[s], META_KEY: reply},
            )
            for s, reply in replies.items()
        ]


def _updates(state: Mapping[str, torch.Tensor], rounds: int) -> dict[tuple[int, str], dict[str, np.ndarray[Any, Any]]]:
    rng = np.random.default_rng(3)
    keys = [k for k, v in state.items() if torch.is_floating_point(v)]
    return {
        (r, s): {k: (rng.standard_normal(tuple(state[k].shape)) * 1e-3).astype(np.float32) for k in keys}
        for r in range(rounds)
        for s in SITES
    }


def test_secure_rounds_move_the_model_by_fedavg_and_record_the_recovered_site(tmp_path: Path) -> None:
    start = build_initial_state("tiny", seed=0)
    updates = _updates(start, 2)
    sites = Sites(Pki(), updates)
    sites.drop[1] = "site-2"  # shares its keys in round 1, then sends nothing
    controller = FednodeController(
        num_rounds=2, min_clients=2, model_spec="tiny", wait_after_min_s=0, secure_aggregation={"threshold": 2}
    )
    run = drive(controller, tmp_path, SITES, sites.answer)
    assert run.panics == []
    assert sites.stages == ["advertise", "share", "masked", "unmask"] * 2

    expected = {k: v.clone().double() for k, v in start.items()}
    for rnd in range(2):
        alive = [s for s in SITES if sites.drop.get(rnd) != s]
        total = sum(COUNTS[s] for s in alive)
        for k in updates[rnd, "site-1"]:
            expected[k] += sum(torch.from_numpy(updates[rnd, s][k]).double() * COUNTS[s] / total for s in alive)
    verified = verify_signed_model(run.run_dir, [run.coordinator_key])
    from safetensors.torch import load_file

    final = load_file(str(run.run_dir / "global_model.safetensors"))
    for k in updates[0, "site-1"]:
        torch.testing.assert_close(final[k].double(), expected[k], rtol=0, atol=1e-6)

    secagg = verified.provenance.secure_aggregation
    assert secagg["ring"] == {"bits": 32, "frac_bits": 24, "clip": 64.0}
    assert [r["sites"] for r in secagg["rounds"]] == [list(SITES), ["site-1", "site-3"]]
    assert [r["recovered"] for r in secagg["rounds"]] == [[], ["site-2"]]
    assert verified.provenance.rounds[1].weights == pytest.approx({"site-1": 0.6, "site-3": 0.4})


def test_below_threshold_fails_the_study_with_a_reason(tmp_path: Path) -> None:
    start = build_initial_state("tiny", seed=0)
    sites = Sites(Pki(), _updates(start, 1))
    sites.drop[0] = "site-2"
    controller = FednodeController(
        num_rounds=1, min_clients=1, model_spec="tiny", wait_after_min_s=0, secure_aggregation={"threshold": 3}
    )
    run = drive(controller, tmp_path, SITES, sites.answer)
    assert len(run.panics) == 1
    assert "2 sites remain, fewer than the threshold of 3" in run.panics[0]
    assert not (run.run_dir / "global_model.safetensors").exists()


@pytest.mark.parametrize("algorithm", ["median", "trimmed_mean", "geometric_median", "fltrust"])
def test_robust_aggregators_are_refused_not_silently_replaced(tmp_path: Path, algorithm: str) -> None:
    controller = FednodeController(num_rounds=1, model_spec="tiny", algorithm=algorithm, secure_aggregation={})
    sites = Sites(Pki(), {})
    run = drive(controller, tmp_path, SITES, sites.answer)
    assert run.broadcasts == [] and len(run.panics) == 1
    assert f"secure aggregation cannot be combined with {algorithm}" in run.panics[0]
