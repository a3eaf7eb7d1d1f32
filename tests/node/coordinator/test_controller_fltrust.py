"""FLTrust inside the coordinator's FLARE workflow: the controller trains its own root update each round on its
public root set (tiny BERT, NCBI-disease mini devel) and a poisoned site's update gets no weight."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from safetensors.torch import load_file

from node.coordinator.controller import FednodeController
from node.coordinator.model import build_initial_state, from_wire, to_wire
from node.coordinator.root_set import train_config
from node.coordinator.run_status import read_run_status
from node.coordinator.signing import verify_signed_model
from node.ml.ner import EncodedDataset, NerModel, encode_for, load_ner_model, read_conll, train_local
from tests.node.coordinator.controller_harness import drive
from tests.node.ner_support import MINI

SITES = ("site-1", "site-2", "site-evil")
TRAIN = {"batch_size": 8, "learning_rate": 1e-3, "max_steps": 4, "seed": 0}
"""The sites' training settings; the study gives the coordinator the same (``root_train``)."""


@pytest.fixture(scope="module")
def sites_data() -> tuple[NerModel, dict[str, EncodedDataset]]:
    model = load_ner_model("tiny", seed=0)
    examples = read_conll(MINI / "train.tsv", limit=80)
    return model, {"site-1": encode_for(examples[:40], model), "site-2": encode_for(examples[40:], model)}


def _flip_attack(sites_data: tuple[NerModel, dict[str, EncodedDataset]], honest_sum: dict[str, torch.Tensor]):  # type: ignore[no-untyped-def]
    """Two honest sites train as the executor would; ``site-evil`` sends site-1's update sign-flipped, 10x."""
    model, shards = sites_data

    def answer(rnd: int, task: FLModel) -> list[FLModel]:
        config = replace(train_config(TRAIN), seed=TRAIN["seed"] + rnd)
        start = from_wire(task.params)
        updates = {s: train_local(start, data, config, model=model).update for s, data in shards.items()}
        updates["site-evil"] = {k: -10.0 * v for k, v in updates["site-1"].items()}
        for site in ("site-1", "site-2"):
            for k, v in updates[site].items():
                honest_sum[k] = honest_sum.get(k, torch.zeros_like(v)) + v
        return [
            FLModel(params=to_wire(u), params_type=ParamsType.DIFF, meta={"client_name": s, "num_examples": 40})
            for s, u in updates.items()
        ]

    return answer


def _cosine(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    keys = sorted(b)
    x = torch.cat([a[k].flatten() for k in keys])
    y = torch.cat([b[k].flatten() for k in keys])
    return float(torch.nn.functional.cosine_similarity(x, y, dim=0))


def _controller(algorithm: str, **extra: object) -> FednodeController:
    return FednodeController(
        num_rounds=2,
        min_clients=3,
        algorithm=algorithm,
        model_spec="tiny",
        root_set=str(MINI / "devel.tsv"),
        root_size=30,
        root_train=TRAIN,
        **extra,  # type: ignore[arg-type]
    )


def test_the_wired_in_fltrust_gives_a_poisoned_site_no_weight(sites_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    honest: dict[str, torch.Tensor] = {}
    run = drive(_controller("fltrust"), tmp_path, SITES, _flip_attack(sites_data, honest))
    assert run.panics == [] and run.broadcasts == [0, 1]
    for record in run.rounds():
        weights, trust = record["weights"], record["aggregation"]
        assert weights["site-evil"] == 0.0 and trust["trust.site-evil"] == 0.0, record
        assert weights["site-1"] > 0 and weights["site-2"] > 0
        assert sum(weights.values()) == pytest.approx(1.0)
        assert trust["root_norm"] > 0  # the coordinator trained on its root set
    verified = verify_signed_model(run.run_dir, [run.coordinator_key])
    moved = {k: v - build_initial_state("tiny")[k] for k, v in load_file(str(verified.model_path)).items()}
    assert _cosine(moved, honest) > 0.5  # the global model follows the honest sites, not the attacker
    status = read_run_status(run.run_dir)
    assert status is not None and status.status == "completed" and status.rounds_done == 2


def test_plain_fedavg_is_dragged_by_the_same_attack(sites_data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    honest: dict[str, torch.Tensor] = {}
    run = drive(_controller("fedavg"), tmp_path, SITES, _flip_attack(sites_data, honest))
    assert run.rounds()[0]["weights"]["site-evil"] == pytest.approx(1 / 3)
    final = load_file(str(run.run_dir / "global_model.safetensors"))
    moved = {k: v - build_initial_state("tiny")[k] for k, v in final.items()}
    assert _cosine(moved, honest) < 0


def test_a_missing_root_set_fails_the_study_before_any_site_trains(tmp_path: Path) -> None:
    ctl = _controller("fltrust")
    ctl.root_set = str(tmp_path / "no-such-file.tsv")
    run = drive(ctl, tmp_path, SITES, lambda _r, _t: pytest.fail("no round may start"))
    assert run.broadcasts == []
    assert len(run.panics) == 1 and "root set" in run.panics[0]
    status = read_run_status(run.run_dir)
    assert status is not None and status.failed and "no such file" in status.reason
