"""The coordinator's per-round checkpoint: written whole or not at all, read back exactly, and refused with a clear
error when it cannot be trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fednode.errors import CheckpointError
from node.coordinator.checkpoint import (
    COMMIT_FILE,
    Checkpoint,
    CheckpointStore,
    Restart,
    first_job_of,
    for_run,
)
from node.coordinator.signing import RoundRecord
from node.kit.meta import RESUME_META_KEY
from node.ml.aggregation import ClientUpdate, make_aggregator

DIGEST = "ab" * 32


def _state(value: float = 1.0) -> dict[str, torch.Tensor]:
    return {"w": torch.full((3, 2), value), "b": torch.arange(4, dtype=torch.float32), "n": torch.tensor([7])}


def _records(n: int) -> tuple[RoundRecord, ...]:
    return tuple(
        RoundRecord(round=i, sites=("site-1", "site-2"), weights={"site-1": 0.5, "site-2": 0.5}, missing=("site-3",))
        for i in range(n)
    )


def _checkpoint(rnd: int, value: float = 1.0, **extra: object) -> Checkpoint:
    args: dict[str, object] = {
        "first_job_id": "job-1",
        "job_id": "job-1",
        "job_digest": DIGEST,
        "study": "s",
        "algorithm": "fedavg",
        "num_rounds": 5,
        "round": rnd,
        "state": _state(value),
        "records": _records(rnd + 1),
    }
    args.update(extra)
    return Checkpoint(**args)  # type: ignore[arg-type]


def test_a_checkpoint_reads_back_exactly(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints")
    restart = Restart("job-2", "job-1", 0, "2026-12-05T12:00:00+00:00")
    control = {"w": torch.full((3, 2), 0.25)}
    store.save(_checkpoint(1, 2.0, control=control, restarts=(restart,), aggregator={"name": "scaffold"}))
    cp = store.load("job-1")
    assert cp is not None
    assert cp.round == 1 and cp.job_digest == DIGEST and cp.records == _records(2)
    assert all(torch.equal(cp.state[k], v) for k, v in _state(2.0).items())
    assert cp.state["n"].dtype == torch.int64
    assert torch.equal(cp.control["w"], control["w"])
    assert cp.restarts == (restart,) and cp.aggregator == {"name": "scaffold"}
    assert store.load("job-9") is None  # no checkpoint: nothing to resume, not an error


def test_a_new_round_replaces_the_old_files_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_checkpoint(0, 1.0))
    store.save(_checkpoint(1, 3.0))
    (tmp_path / "job-1" / ".model-2.safetensors.0a1b2c.tmp").write_bytes(b"a write cut off by a crash")
    store.save(_checkpoint(1, 3.0))
    names = sorted(p.name for p in (tmp_path / "job-1").iterdir())
    assert names == [COMMIT_FILE, "model-1.safetensors"]
    cp = store.load("job-1")
    assert cp is not None and cp.round == 1 and float(cp.state["w"][0, 0]) == 3.0


def test_a_crash_while_writing_keeps_the_last_committed_round(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_checkpoint(0, 1.0))
    import node.coordinator.checkpoint as mod

    real = mod.write_bytes_atomic

    def crash_on_commit(path: Path, data: bytes, *, durable: bool = False) -> None:
        if path.name == COMMIT_FILE:
            raise OSError(28, "No space left on device")
        real(path, data, durable=durable)

    monkeypatch.setattr(mod, "write_bytes_atomic", crash_on_commit)
    with pytest.raises(OSError):
        store.save(_checkpoint(1, 9.0))
    cp = store.load("job-1")  # the round-0 commit point still names files that are there
    assert cp is not None and cp.round == 0 and float(cp.state["w"][0, 0]) == 1.0
    assert not [p for p in (tmp_path / "job-1").iterdir() if p.name.endswith(".tmp")]


def test_a_torn_model_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_checkpoint(0))
    model = tmp_path / "job-1" / "model-0.safetensors"
    model.write_bytes(model.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"model-0\.safetensors: torn or changed"):
        store.load("job-1")


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_checkpoint(0))
    (tmp_path / "job-1" / "model-0.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing or unreadable"):
        store.load("job-1")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"\x00\xff binary", "not a checkpoint"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema": "fednode.checkpoint/1"}', "malformed checkpoint"),
        (b'{"schema": "other/9"}', "unknown checkpoint schema"),
    ],
)
def test_a_corrupt_commit_file_is_refused(tmp_path: Path, text: bytes, why: str) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_checkpoint(0))
    (tmp_path / "job-1" / COMMIT_FILE).write_bytes(text)
    with pytest.raises(CheckpointError, match=why) as info:
        store.load("job-1")
    assert str(tmp_path / "job-1" / COMMIT_FILE) in info.value.message
    assert info.value.exit_code == 5


def test_records_that_do_not_match_the_round_are_refused(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(_checkpoint(2, records=_records(2)))
    with pytest.raises(CheckpointError, match="2 round records for round 2"):
        store.load("job-1")


def test_a_job_id_that_is_a_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a job id"):
        CheckpointStore(tmp_path).load("../etc")


def test_a_continuation_starts_after_the_last_round_with_the_scaffold_control(tmp_path: Path) -> None:
    agg = make_aggregator("scaffold", total_sites=2, min_clients=1)
    upd = {"w": torch.ones(3, 2)}
    agg.aggregate([ClientUpdate("site-1", upd, 4, control_delta={"w": torch.full((3, 2), 2.0)})])
    first = for_run(tmp_path, "job-1", {}, job_digest=DIGEST, study="s", algorithm="scaffold", num_rounds=5)
    assert first.resume(agg, _state())[0] == 0
    first.save(0, _state(4.0), list(_records(1)), agg, {})
    assert (tmp_path / "checkpoints" / "job-1" / "control-0.safetensors").is_file()

    fresh = make_aggregator("scaffold", total_sites=2, min_clients=1)
    second = for_run(
        tmp_path, "job-2", {RESUME_META_KEY: "job-1"}, job_digest=DIGEST, study="s", algorithm="scaffold", num_rounds=5
    )
    start, state, records = second.resume(fresh, _state())
    assert start == 1 and float(state["w"][0, 0]) == 4.0 and records == list(_records(1))
    assert torch.equal(fresh.inner.global_control["w"], torch.full((3, 2), 1.0))  # type: ignore[attr-defined]
    assert [(r.job_id, r.resumed_from, r.after_round) for r in second.restarts] == [("job-2", "job-1", 0)]
    second.save(1, state, [*records, *_records(2)[1:]], fresh, {})
    cp = CheckpointStore(tmp_path / "checkpoints").load("job-1")
    assert cp is not None and cp.job_id == "job-2" and len(cp.restarts) == 1


def test_a_continuation_with_another_digest_or_of_a_completed_study_is_refused(tmp_path: Path) -> None:
    agg = make_aggregator("fedavg", min_clients=1)
    first = for_run(tmp_path, "job-1", {}, job_digest=DIGEST, study="s", algorithm="fedavg", num_rounds=5)
    first.save(0, _state(), list(_records(1)), agg, {})
    other = for_run(
        tmp_path, "job-2", {RESUME_META_KEY: "job-1"}, job_digest="cd" * 32, study="s", algorithm="fedavg", num_rounds=5
    )
    with pytest.raises(CheckpointError, match="app digest"):
        other.resume(agg, _state())
    first.complete()
    again = for_run(
        tmp_path, "job-3", {RESUME_META_KEY: "job-1"}, job_digest=DIGEST, study="s", algorithm="fedavg", num_rounds=5
    )
    with pytest.raises(CheckpointError, match="already completed"):
        again.resume(agg, _state())


def test_a_continuation_before_any_round_completed_starts_at_zero(tmp_path: Path) -> None:
    agg = make_aggregator("fedavg", min_clients=1)
    run = for_run(
        tmp_path, "job-2", {RESUME_META_KEY: "job-1"}, job_digest=DIGEST, study="s", algorithm="fedavg", num_rounds=5
    )
    start, _state_now, records = run.resume(agg, _state())
    assert (start, records) == (0, []) and [r.after_round for r in run.restarts] == [-1]


def test_the_first_job_is_named_by_the_resume_key_or_is_the_job_itself() -> None:
    assert first_job_of("job-2", {RESUME_META_KEY: "job-1"}) == "job-1"
    assert first_job_of("job-2", {}) == "job-2"
    assert first_job_of("job-2", {RESUME_META_KEY: 7}) == "job-2"


def test_the_bookkeeping_counts_missed_rounds_and_keeps_fltrust_scores(tmp_path: Path) -> None:
    agg = make_aggregator("fedavg", min_clients=2)
    run = for_run(tmp_path, "job-1", {}, job_digest=DIGEST, study="s", algorithm="fedavg", num_rounds=5)
    run.save(1, _state(), list(_records(2)), agg, {"trust.site-1": 0.9, "root_norm": 1.5})
    data = json.loads((tmp_path / "checkpoints" / "job-1" / COMMIT_FILE).read_text())
    assert data["aggregator"]["min_clients"] == 2
    assert data["aggregator"]["missed_rounds"] == {"site-3": 2}
    assert data["aggregator"]["fltrust"] == {"trust": {"site-1": 0.9}, "root_norm": 1.5}


def test_a_checkpoint_submitted_in_the_background_is_on_disk_after_wait(tmp_path: Path) -> None:
    agg = make_aggregator("fedavg", min_clients=1)
    run = for_run(tmp_path, "job-1", {}, job_digest=DIGEST, study="s", algorithm="fedavg", num_rounds=5)
    run.submit(0, _state(1.0), list(_records(1)), agg, {})
    run.submit(1, _state(2.0), list(_records(2)), agg, {})  # waits for round 0's write first: in order
    run.wait()
    cp = CheckpointStore(tmp_path / "checkpoints").load("job-1")
    assert cp is not None and cp.round == 1 and float(cp.state["w"][0, 0]) == 2.0
    assert run.wait() is None  # nothing in flight


def test_a_failed_background_write_is_logged_and_the_next_round_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    agg = make_aggregator("fedavg", min_clients=1)
    run = for_run(tmp_path, "job-1", {}, job_digest=DIGEST, study="s", algorithm="fedavg", num_rounds=5)
    real = run.store.save
    calls: list[int] = []

    def flaky(cp: Checkpoint) -> Path:
        calls.append(cp.round)
        if cp.round == 0:
            raise OSError(28, "No space left on device")
        return real(cp)

    monkeypatch.setattr(run.store, "save", flaky)
    run.submit(0, _state(), list(_records(1)), agg, {})
    run.submit(1, _state(), list(_records(2)), agg, {})
    run.wait()
    assert calls == [0, 1] and "checkpoint.write_failed" in caplog.text
    cp = CheckpointStore(tmp_path / "checkpoints").load("job-1")
    assert cp is not None and cp.round == 1
