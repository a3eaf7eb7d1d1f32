"""The credit record inside the coordinator's FLARE workflow: two honest sites train the tiny BERT, a flaky site
refuses (an error reply) or misses every other round, a poisoning site sends a sign-flipped, ten-times update;
the exclusion policy takes it out, ``rounds.jsonl`` and the signed provenance say so, the record stays in the
workspace."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.shareable import make_reply
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from node.coordinator.controller import FednodeController
from node.coordinator.credit import CREDIT_DB, CreditStore
from node.coordinator.model import from_wire, to_wire
from node.coordinator.root_set import train_config
from node.coordinator.signing import verify_signed_model
from node.ml.ner import encode_for, load_ner_model, read_conll, train_local
from tests.node.coordinator.controller_harness import drive
from tests.node.ner_support import MINI

SITES = ("site-1", "site-2", "site-evil", "site-flaky")
TRAIN = {"batch_size": 8, "learning_rate": 1e-3, "max_steps": 3, "seed": 0}


def test_the_record_the_policy_and_the_provenance_through_the_controller(tmp_path: Path) -> None:
    model = load_ner_model("tiny", seed=0)
    examples = read_conll(MINI / "train.tsv", limit=60)
    shards = {"site-1": encode_for(examples[:30], model), "site-2": encode_for(examples[30:], model)}
    controller = FednodeController(
        num_rounds=4,
        min_clients=2,
        model_spec="tiny",
        wait_after_min_s=0,
        root_set=str(MINI / "devel.tsv"),
        credit={"min_score": 0.5, "action": "exclude", "loo_size": 12},
    )

    def answer(rnd: int, task: FLModel) -> list[FLModel]:
        config = replace(train_config(TRAIN), seed=rnd)
        start = from_wire(task.params)
        updates = {s: train_local(start, data, config, model=model).update for s, data in shards.items()}
        updates["site-evil"] = {k: -10.0 * v for k, v in updates["site-1"].items()}
        if rnd % 2 == 0:  # first to arrive in round 0, last (late: after the quorum of 2) in round 2
            flaky = {k: 0.9 * v for k, v in updates["site-2"].items()}
            updates = {"site-flaky": flaky, **updates} if rnd == 0 else {**updates, "site-flaky": flaky}
        elif rnd == 1:  # its own site refused to send: NVFlare sees an error reply and drops it
            controller._accept_train_result(
                "site-flaky", make_reply(ReturnCode.EXECUTION_RESULT_ERROR), controller.fl_ctx
            )
        return [
            FLModel(params=to_wire(u), params_type=ParamsType.DIFF, meta={"client_name": s, "num_examples": 30})
            for s, u in updates.items()
        ]

    run = drive(controller, tmp_path, SITES, answer)
    assert run.panics == [] and run.broadcasts == [0, 1, 2, 3]
    rounds = run.rounds()
    for line in rounds:
        assert line["credit"]["site-evil"]["action"] == "exclude"
        assert line["weights"]["site-evil"] == 0.0 and "site-evil" in line["sites"]  # it answered; it got no weight
        assert sum(line["weights"].values()) == pytest.approx(1.0)
    assert [line["credit"]["site-flaky"]["status"] for line in rounds] == ["on_time", "refused", "late", "missed"]
    assert rounds[1]["missing"] == rounds[3]["missing"] == ["site-flaky"]  # the credit record tells them apart
    assert rounds[0]["credit"]["_loo"]["evaluations"] == 4  # the three sites aggregated, and all of them

    figures = verify_signed_model(run.run_dir, [run.coordinator_key]).provenance.credit
    score = {site: float(f["score"]) for site, f in figures.items()}
    assert set(score) == set(SITES)
    assert score["site-evil"] < score["site-flaky"] < min(score["site-1"], score["site-2"])
    assert figures["site-flaky"]["refused"] == 1 and figures["site-flaky"]["missed"] == 1
    assert figures["site-evil"]["excluded"] == 4

    kept = CreditStore(tmp_path / CREDIT_DB, readonly=True).credit()
    assert kept["site-evil"].asked == 4 and kept["site-evil"].norm_ratio is not None
    assert kept["site-evil"].norm_ratio > 5
    assert torch.isfinite(torch.tensor(kept["site-1"].loo or 0.0))
