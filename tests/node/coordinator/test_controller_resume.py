"""The controller checkpoints each completed round and a resubmitted job continues after the last one: the study
ends with the same rounds, the same weights as an uninterrupted run, and a provenance that records the restart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from safetensors.torch import load_file

import tests.node.coordinator.controller_harness as harness
from node.coordinator.checkpoint import CHECKPOINTS_DIR, COMMIT_FILE
from node.coordinator.controller import FednodeController
from node.coordinator.model import build_initial_state
from node.coordinator.run_status import read_run_status
from node.coordinator.signing import verify_signed_model
from node.coordinator.study import StudySpec, build_job
from node.kit.meta import RESUME_META_KEY
from tests.node.coordinator.controller_harness import drive

SITES = ("site-1", "site-2")
TINY = build_initial_state("tiny")


class CrashError(Exception):
    """Stands in for the coordinator process dying mid-round."""


def _answer(crash_in: int | None = None):  # type: ignore[no-untyped-def]
    def answer(rnd: int, _task: FLModel) -> list[FLModel]:
        if rnd == crash_in:
            raise CrashError
        delta = 0.01 * (rnd + 1)
        out = []
        for i, site in enumerate(SITES):
            params = {
                k: np.full(v.shape, delta * (i + 1), np.float32) for k, v in TINY.items() if v.is_floating_point()
            }
            out.append(
                FLModel(params=params, params_type=ParamsType.DIFF, meta={"client_name": site, "num_examples": 10})
            )
        return out

    return answer


def _meta(tmp_path: Path) -> dict[str, object]:
    job, _digest = build_job(StudySpec(name="s", sites=SITES, rounds=4, model_spec="tiny"), tmp_path / "jobs")
    meta: dict[str, object] = json.loads((job / "meta.json").read_text())
    return meta


def _controller() -> FednodeController:
    return FednodeController(num_rounds=4, min_clients=2, model_spec="tiny", study="s")


def _written(ctl: FednodeController) -> None:
    """The checkpoint of the last completed round is written while the next round runs: a process that lived
    that long has it on disk (a crash within the write costs that round too)."""
    assert ctl._ckpt is not None
    ctl._ckpt.wait()


def test_a_resumed_job_continues_after_the_last_completed_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = _meta(tmp_path)
    whole = drive(_controller(), tmp_path / "whole", SITES, _answer(), job_meta=meta)
    assert whole.broadcasts == [0, 1, 2, 3]

    root = tmp_path / "crashed"
    crashed = _controller()
    with pytest.raises(CrashError):
        drive(crashed, root, SITES, _answer(crash_in=2), job_meta=meta)
    _written(crashed)
    commit = json.loads((root / CHECKPOINTS_DIR / harness.JOB_ID / COMMIT_FILE).read_text())
    assert commit["round"] == 1 and not commit["completed"]

    monkeypatch.setattr(harness, "JOB_ID", "job-8")
    resumed = drive(_controller(), root, SITES, _answer(), job_meta={**meta, RESUME_META_KEY: "job-7"})
    assert resumed.panics == []
    assert resumed.broadcasts == [2, 3]  # rounds 0 and 1 are not run again
    verified = verify_signed_model(resumed.run_dir, [resumed.coordinator_key])
    prov = verified.provenance
    assert [r.round for r in prov.rounds] == [0, 1, 2, 3] and prov.job_id == "job-8"
    assert [(r["job_id"], r["resumed_from"], r["after_round"]) for r in prov.restarts] == [("job-8", "job-7", 1)]
    a = load_file(str(whole.run_dir / "global_model.safetensors"))
    b = load_file(str(verified.model_path))
    assert all(torch.allclose(a[k], b[k]) for k in a)  # the same model as without the crash
    assert read_run_status(resumed.run_dir).rounds_done == 4  # type: ignore[union-attr]

    # the study completed: resuming it again is refused, the study fails with the reason (nothing signed)
    monkeypatch.setattr(harness, "JOB_ID", "job-9")
    again = drive(_controller(), root, SITES, _answer(), job_meta={**meta, RESUME_META_KEY: "job-7"})
    assert again.broadcasts == [] and "already completed" in again.panics[0]


def test_an_uninterrupted_study_records_no_restart(tmp_path: Path) -> None:
    run = drive(_controller(), tmp_path, SITES, _answer(), job_meta=_meta(tmp_path))
    prov = verify_signed_model(run.run_dir, [run.coordinator_key]).provenance
    assert prov.restarts == ()
    assert b"restarts" not in prov.canonical()  # models signed before restarts existed still verify


def test_a_torn_checkpoint_fails_the_resumed_study_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = _meta(tmp_path)
    crashed = _controller()
    with pytest.raises(CrashError):
        drive(crashed, tmp_path, SITES, _answer(crash_in=1), job_meta=meta)
    _written(crashed)
    model = tmp_path / CHECKPOINTS_DIR / harness.JOB_ID / "model-0.safetensors"
    model.write_bytes(b"garbage")
    monkeypatch.setattr(harness, "JOB_ID", "job-8")
    run = drive(_controller(), tmp_path, SITES, _answer(), job_meta={**meta, RESUME_META_KEY: "job-7"})
    assert run.broadcasts == []
    assert "cannot continue from its checkpoint" in run.panics[0] and "torn or changed" in run.panics[0]
    status = read_run_status(run.run_dir)
    assert status is not None and status.failed
