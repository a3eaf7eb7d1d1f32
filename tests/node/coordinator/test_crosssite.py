"""Cross-site evaluation at the coordinator: after the last round the final model goes out in the ``validate``
task, each site's released figures land on the model card, and the card is signed with the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from fednode.errors import SignatureError
from node.coordinator.controller import APPROVAL_META_KEY, FednodeController
from node.coordinator.model import build_initial_state
from node.coordinator.model_card import CARD_JSON, CARD_MD, read_card
from node.coordinator.signing import verify_signed_model
from node.coordinator.study import APP_NAME, StudySpec, build_job, client_config, server_config
from node.kit.crosssite import VALIDATE_TASK, GroupFigures, flatten
from policies.receipts import issue_receipt
from tests.node.coordinator.controller_harness import JOB_ID, drive
from tests.policies.statekit import ALLOW as STATE_ALLOW
from tests.policies.statekit import make_site, manifest

SITES3 = ("site-1", "site-2", "site-3")
TINY = build_initial_state("tiny")
F1 = {"site-1": 0.81, "site-2": 0.79, "site-3": 0.42}
"""Each site's local F1 on its held-back split; site-3's notes are skewed."""


def _update(site: str, **meta: object) -> FLModel:
    params = {k: np.full(v.shape, 0.01, np.float32) for k, v in TINY.items() if torch.is_floating_point(v)}
    return FLModel(
        params=params,
        params_type=ParamsType.DIFF,
        metrics={"train_loss": 0.4, "epsilon": 0.8 + SITES3.index(site) / 10},
        meta={"client_name": site, "num_examples": 10, **meta},
    )


def _figures(site: str) -> dict[str, float]:
    f1 = F1[site]
    groups = {
        "all": GroupFigures(f1, f1, f1, 150),
        "lang_en": GroupFigures(f1, f1, f1, 140),
        "lang_sv": GroupFigures(suppressed=True),
    }
    return flatten(groups, {"records": 500.0, "heldout": 100.0, "min_support": 10.0, "dp_noise_multiplier": 1.0})


def _receipt(tmp_path: Path, site: str, digest: str) -> dict[str, object]:
    registry = make_site(tmp_path / f"{site}.db")
    registry.jobs.register_pending(manifest(JOB_ID, digest=digest), STATE_ALLOW)
    registry.jobs.approve(JOB_ID, "dr.hansen", "reviewed")
    return issue_receipt(registry.jobs.get(JOB_ID), site=site, key=registry.key).to_json()


def test_the_study_asks_for_validation_and_carries_the_limitations_to_review(tmp_path: Path) -> None:
    spec = StudySpec(name="s", sites=SITES3, model_spec="tiny", limitations="English notes only.")
    (executor,) = client_config(spec)["executors"]
    assert executor["tasks"] == ["train", VALIDATE_TASK]
    assert executor["executor"]["args"]["validate_task"] == VALIDATE_TASK
    args = server_config(spec)["workflows"][0]["args"]
    assert (args["validate_task"], args["limitations"], args["spread_threshold"]) == (
        VALIDATE_TASK,
        "English notes only.",
        0.1,
    )
    job, _ = build_job(spec, tmp_path)  # what each site's reviewers see: the config files in the manifest
    assert VALIDATE_TASK in (job / APP_NAME / "config" / "config_fed_client.json").read_text()
    assert "English notes only." in (job / APP_NAME / "config" / "config_fed_server.json").read_text()


def test_after_the_last_round_each_sites_figures_land_on_the_signed_card(tmp_path: Path) -> None:
    job, digest = build_job(StudySpec(name="s", sites=SITES3, model_spec="tiny"), tmp_path / "jobs")
    meta = json.loads((job / "meta.json").read_text())
    receipts = {s: _receipt(tmp_path, s, digest) for s in SITES3}
    tasks: list[tuple[int, bool]] = []

    def answer(rnd: int, task: FLModel) -> list[FLModel]:
        validating = rnd == 2
        tasks.append((rnd, validating))
        if validating:  # the final model, whole: each site evaluates it on its held-back split
            assert task.params_type == ParamsType.FULL and task.params
            return [FLModel(metrics=_figures(s), meta={"client_name": s}) for s in SITES3]
        return [_update(s, **{APPROVAL_META_KEY: receipts[s]}) for s in SITES3]

    controller = FednodeController(
        num_rounds=2,
        min_clients=3,
        model_spec="tiny",
        validate_task=VALIDATE_TASK,
        limitations="Trained on English discharge summaries.",
    )
    run = drive(controller, tmp_path, SITES3, answer, job_meta=meta)

    assert run.panics == []
    assert tasks == [(0, False), (1, False), (2, True)]
    verified = verify_signed_model(run.run_dir, [run.coordinator_key], expected_job_digest=digest)
    assert sorted(verified.provenance.attachments) == [CARD_JSON, CARD_MD]
    card = read_card(run.run_dir, verified.provenance.attachments)
    overall = {g["site"]: g["f1"] for g in card["evaluation"]["groups"] if g["kind"] == "site"}
    assert overall == F1  # the card's per-site figures are what each site computed
    spread = next(s for s in card["evaluation"]["spreads"] if s["dimension"] == "site")
    assert spread["flagged"] and [w["group"] for w in spread["weaker"]] == ["site-3"]
    assert any(f.startswith("The model is weaker at site-3") for f in card["evaluation"]["findings"])
    rows = {s["site"]: s for s in card["sites"]}
    assert {s: r["epsilon"] for s, r in rows.items()} == {"site-1": 0.8, "site-2": 0.9, "site-3": 1.0}
    assert all(r["approval"]["approvers"][0]["name"] == "dr.hansen" for r in rows.values())
    assert all(r["approval"]["digest"] == digest for r in rows.values())
    assert card["limitations"]["submitter"] == "Trained on English discharge summaries."
    assert card["decisions"]["coordinator_key_id"] == verified.key_id

    md = run.run_dir / CARD_MD
    md.write_bytes(md.read_bytes().replace(b"site-3", b"site-X", 1))
    with pytest.raises(SignatureError, match=CARD_MD):
        verify_signed_model(run.run_dir, [run.coordinator_key])


def test_a_site_that_does_not_answer_validation_is_a_limitation(tmp_path: Path) -> None:
    def answer(rnd: int, _task: FLModel) -> list[FLModel]:
        if rnd == 1:
            return [FLModel(metrics=_figures(s), meta={"client_name": s}) for s in SITES3[:2]]
        return [_update(s) for s in SITES3]

    controller = FednodeController(num_rounds=1, min_clients=2, model_spec="tiny", validate_task=VALIDATE_TASK)
    run = drive(controller, tmp_path, SITES3, answer)
    card = read_card(run.run_dir)
    assert (
        "No cross-site evaluation from site-3: the model's performance there is unknown."
        in (card["limitations"]["automatic"])
    )
    assert [s["evaluated"] for s in card["sites"]] == [True, True, False]


def test_without_a_validation_task_the_controller_runs_as_before(tmp_path: Path) -> None:
    run = drive(
        FednodeController(num_rounds=1, min_clients=3, model_spec="tiny"),
        tmp_path,
        SITES3,
        lambda _r, _t: [_update(s) for s in SITES3],
    )
    assert run.broadcasts == [0]
    assert not (run.run_dir / CARD_JSON).exists()
    assert verify_signed_model(run.run_dir, [run.coordinator_key]).provenance.attachments == {}


def test_secure_aggregation_is_on_the_card_when_its_coordinator_part_was_active() -> None:
    from types import SimpleNamespace

    from node.coordinator.crosssite import _secure_aggregation

    controller = FednodeController(num_rounds=1, model_spec="tiny")
    controller._secagg = SimpleNamespace(active=True, provenance=lambda: {"ring_bits": 32, "rounds": [0]})  # type: ignore[assignment]
    assert _secure_aggregation(controller) == {"ring_bits": 32, "rounds": [0]}
    controller._secagg = SimpleNamespace(active=False, provenance=dict)  # type: ignore[assignment]
    assert _secure_aggregation(controller) is None
