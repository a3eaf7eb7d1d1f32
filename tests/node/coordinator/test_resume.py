"""``study resume``'s local steps: finding the job definition in a downloaded result, and reading the last round
the coordinator checkpointed (a torn or completed checkpoint is refused before anything is submitted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fednode.errors import CheckpointError, NotFoundError
from node.coordinator.checkpoint import CHECKPOINTS_DIR, for_run
from node.coordinator.resume import job_definition, keep_submission, kept_submission, last_round
from node.coordinator.signing import RoundRecord
from node.coordinator.study import StudySpec, build_job
from node.ml.aggregation import make_aggregator


def test_the_job_definition_is_the_folder_with_the_fednode_manifest(tmp_path: Path) -> None:
    result = tmp_path / "result"
    job, _ = build_job(StudySpec(name="s", sites=("site-1",), model_spec="tiny"), result / "job")
    (result / "workspace" / "x").mkdir(parents=True)
    (result / "workspace" / "x" / "meta.json").write_text("{}")
    (result / "meta.json").write_text(json.dumps({"job_id": "j"}))
    assert job_definition(result) == job


def test_a_result_without_a_definition_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "job" / "s").mkdir(parents=True)
    (tmp_path / "job" / "s" / "meta.json").write_text(json.dumps({"name": "s"}))  # no manifest: not reviewable
    with pytest.raises(NotFoundError, match="no job definition"):
        job_definition(tmp_path)


def test_the_last_checkpointed_round_is_read_and_a_completed_study_refused(tmp_path: Path) -> None:
    assert last_round(tmp_path, "job-1") is None  # no checkpoints on this machine
    run = for_run(tmp_path, "job-1", {}, job_digest="d", study="s", algorithm="fedavg", num_rounds=3)
    records = [RoundRecord(round=i, sites=("site-1",)) for i in range(2)]
    run.save(1, {"w": torch.zeros(2)}, records, make_aggregator("fedavg"), {})
    assert last_round(tmp_path, "job-1") == 1
    (tmp_path / CHECKPOINTS_DIR / "job-1" / "model-1.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="torn or changed"):
        last_round(tmp_path, "job-1")
    run.save(1, {"w": torch.zeros(2)}, records, make_aggregator("fedavg"), {})
    run.complete()
    with pytest.raises(CheckpointError, match="already completed"):
        last_round(tmp_path, "job-1")


def test_a_submitted_job_is_kept_by_its_id_for_resume(tmp_path: Path) -> None:
    job, _ = build_job(StudySpec(name="s", sites=("site-1",), model_spec="tiny"), tmp_path / "jobs")
    kept = keep_submission(tmp_path, "job-1", job)
    assert kept is not None and kept_submission(tmp_path, "job-1") == kept
    assert (kept / "meta.json").read_bytes() == (job / "meta.json").read_bytes()
    build_job(StudySpec(name="s", sites=("site-1",), rounds=9, model_spec="tiny"), tmp_path / "jobs")  # overwritten
    assert (kept / "meta.json").read_bytes() != (job / "meta.json").read_bytes()  # the kept copy is not
    assert kept_submission(tmp_path, "job-2") is None
    assert keep_submission(tmp_path, "../x", job) is None
