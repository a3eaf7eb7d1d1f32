"""The coordinator's per-round checkpoint: a crash costs at most the round in flight.

After each completed round the controller writes, in the coordinator's state volume (the server workspace, outside
any run folder, so the next job finds it), under ``checkpoints/<first job id>/``:

- ``model-<round>.safetensors``: the global model after that round;
- ``control-<round>.safetensors``: SCAFFOLD's global control variate (only for SCAFFOLD);
- ``checkpoint.json``: the commit point, written last: study, app digest, algorithm, last completed round, the
  :class:`~node.coordinator.signing.RoundRecord` of every round so far, the aggregator's bookkeeping (quorum,
  FLTrust's last trust scores), the restarts so far, and the sha256 of the two tensor files.

Every file is written through a synced temp file renamed into place (:func:`fednode.atomic.write_bytes_atomic`);
tensor files carry their round in the name, so a crash between two writes leaves the previous ``checkpoint.json``
naming files that are still there. Older rounds' files are removed after the new commit point is in place.

The controller hands each checkpoint to a background thread (:meth:`RunCheckpoint.submit`) and goes on with the
next round: the coordinator is idle while the sites train, so the write costs the round loop only the wait for a
previous write still in flight (``bench.checkpoint``: the cost per round against the round). The price: a crash
within the second or so that the write takes costs that round as well as the one in flight.

A study is continued by resubmitting the same job bytes with :data:`node.kit.meta.RESUME_META_KEY` (the first job
id) in the job meta (``fednode study resume``); :func:`for_run` finds the checkpoint from it. A checkpoint whose
files do not hash to what it names, or whose app digest or study differ from the job's, is refused with
:class:`~fednode.errors.CheckpointError` (the study then fails; it never silently starts again from round 0).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from fednode.atomic import sync_folder, write_bytes_atomic
from fednode.errors import CheckpointError
from node.coordinator.signing import RoundRecord
from node.kit.meta import RESUME_META_KEY
from node.ml.aggregation import Quorum, Scaffold
from node.ml.aggregation._types import Aggregator

log = logging.getLogger("fednode.node.coordinator.checkpoint")

CHECKPOINTS_DIR = "checkpoints"
"""Under the server workspace root (``engine.get_workspace().get_root_dir()``, the coordinator's state volume)."""
COMMIT_FILE = "checkpoint.json"
SCHEMA = "fednode.checkpoint/1"

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Restart:
    """One continuation of a study: the job that continued it, the job it continued, after which round."""

    job_id: str
    resumed_from: str
    after_round: int
    """The last round completed before the restart (-1: none was); rounds after it ran in ``job_id``."""
    at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Checkpoint:
    """What the coordinator knows after a completed round."""

    first_job_id: str
    job_id: str
    """The job that completed ``round`` (the first job or a continuation)."""
    job_digest: str
    study: str
    algorithm: str
    num_rounds: int
    round: int
    """The last completed round (0-based)."""
    state: StateDict
    records: tuple[RoundRecord, ...]
    control: StateDict = field(default_factory=dict)
    aggregator: Mapping[str, Any] = field(default_factory=dict)
    restarts: tuple[Restart, ...] = ()
    completed: bool = False
    written_at: str = ""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tensors_bytes(tensors: Mapping[str, torch.Tensor]) -> bytes:
    return save_tensors({k: v.detach().cpu().contiguous() for k, v in tensors.items()})


def _record_json(r: RoundRecord) -> dict[str, Any]:
    return {
        "round": r.round,
        "sites": list(r.sites),
        "weights": dict(r.weights),
        "missing": list(r.missing),
        "rejected": list(r.rejected),
        "metrics": {k: dict(v) for k, v in r.metrics.items()},
    }


def _record_from(data: Mapping[str, Any]) -> RoundRecord:
    return RoundRecord(
        round=int(data["round"]),
        sites=tuple(str(s) for s in data["sites"]),
        weights={str(k): float(v) for k, v in data.get("weights", {}).items()},
        missing=tuple(str(s) for s in data.get("missing", ())),
        rejected=tuple(str(s) for s in data.get("rejected", ())),
        metrics={str(k): {str(m): float(x) for m, x in v.items()} for k, v in data.get("metrics", {}).items()},
    )


class CheckpointStore:
    """The checkpoints under ``root`` (``<server workspace>/checkpoints``), one folder per study's first job."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, first_job_id: str) -> Path:
        if not first_job_id or "/" in first_job_id or first_job_id in (".", "..") or "\\" in first_job_id:
            raise CheckpointError(f"not a job id: {first_job_id!r}")
        return self.root / first_job_id

    def save(self, cp: Checkpoint) -> Path:
        """Write ``cp`` atomically (tensor files first, then the commit point); return the commit file."""
        folder = self.folder(cp.first_job_id)
        folder.mkdir(parents=True, exist_ok=True)
        model_name = f"model-{cp.round}.safetensors"
        model = _tensors_bytes(cp.state)
        write_bytes_atomic(folder / model_name, model)
        files = {"model": {"file": model_name, "sha256": _sha256(model)}}
        if cp.control:
            control_name = f"control-{cp.round}.safetensors"
            control = _tensors_bytes(cp.control)
            write_bytes_atomic(folder / control_name, control)
            files["control"] = {"file": control_name, "sha256": _sha256(control)}
        commit = {
            "schema": SCHEMA,
            "first_job_id": cp.first_job_id,
            "job_id": cp.job_id,
            "job_digest": cp.job_digest,
            "study": cp.study,
            "algorithm": cp.algorithm,
            "num_rounds": cp.num_rounds,
            "round": cp.round,
            "records": [_record_json(r) for r in cp.records],
            "aggregator": dict(cp.aggregator),
            "restarts": [r.to_json() for r in cp.restarts],
            "completed": cp.completed,
            "written_at": cp.written_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
        }
        path = folder / COMMIT_FILE
        write_bytes_atomic(path, json.dumps(commit, indent=1, sort_keys=True).encode("utf-8"), durable=True)
        keep = {f["file"] for f in files.values()}
        for old in [*folder.glob("*.safetensors"), *folder.glob(".*.tmp")]:  # older rounds, a crashed write's temp
            if old.name not in keep:
                old.unlink(missing_ok=True)
        sync_folder(folder)
        return path

    def mark_completed(self, first_job_id: str) -> None:
        """The study signed its model: a later resume of it is refused (nothing is left to continue)."""
        path = self.folder(first_job_id) / COMMIT_FILE
        data = self._commit(path)
        data["completed"] = True
        write_bytes_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"), durable=True)

    def load(self, first_job_id: str) -> Checkpoint | None:
        """The last committed checkpoint of the study whose first job is ``first_job_id``; ``None`` when it has
        none; :class:`CheckpointError` when it cannot be trusted (the message names the folder and why)."""
        folder = self.folder(first_job_id)
        path = folder / COMMIT_FILE
        if not path.exists():
            return None
        data = self._commit(path)
        try:
            if data.get("schema") != SCHEMA:
                raise CheckpointError(f"{path}: unknown checkpoint schema {data.get('schema')!r}")
            files = data["files"]
            state = self._tensors(folder, files["model"])
            control = self._tensors(folder, files["control"]) if "control" in files else {}
            records = tuple(_record_from(r) for r in data["records"])
            restarts = tuple(
                Restart(str(r["job_id"]), str(r["resumed_from"]), int(r["after_round"]), str(r["at"]))
                for r in data.get("restarts", ())
            )
            cp = Checkpoint(
                first_job_id=str(data["first_job_id"]),
                job_id=str(data["job_id"]),
                job_digest=str(data["job_digest"]),
                study=str(data["study"]),
                algorithm=str(data["algorithm"]),
                num_rounds=int(data["num_rounds"]),
                round=int(data["round"]),
                state=state,
                records=records,
                control=control,
                aggregator=dict(data.get("aggregator") or {}),
                restarts=restarts,
                completed=bool(data.get("completed", False)),
                written_at=str(data.get("written_at", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{path}: malformed checkpoint ({type(exc).__name__}: {exc})") from None
        if cp.first_job_id != first_job_id:
            raise CheckpointError(f"{path}: names first job {cp.first_job_id!r}, not {first_job_id!r}")
        if len(cp.records) != cp.round + 1 or [r.round for r in cp.records] != list(range(cp.round + 1)):
            raise CheckpointError(f"{path}: holds {len(cp.records)} round records for round {cp.round}")
        return cp

    @staticmethod
    def _commit(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: not a checkpoint (not JSON: {type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{path}: not a checkpoint (not a JSON object)")
        return data

    @staticmethod
    def _tensors(folder: Path, entry: Mapping[str, Any]) -> StateDict:
        name = str(entry["file"])
        path = folder / name
        if path.parent != folder:
            raise CheckpointError(f"{folder / COMMIT_FILE}: names a file outside its folder")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CheckpointError(f"{path}: missing or unreadable ({exc.strerror or type(exc).__name__})") from None
        if _sha256(data) != entry["sha256"]:
            raise CheckpointError(f"{path}: torn or changed (does not hash to what {COMMIT_FILE} names)")
        try:
            return dict(load_tensors(data))
        except SafetensorError as exc:
            raise CheckpointError(f"{path}: not a safetensors file ({exc})") from None


# -- the aggregator's state -----------------------------------------------------------------------------------


def aggregator_state(
    aggregator: Aggregator, info: Mapping[str, float], records: Sequence[RoundRecord]
) -> tuple[StateDict, dict[str, Any]]:
    """What the aggregator carries from round to round: SCAFFOLD's global control (tensors) and the bookkeeping
    (quorum, the rounds each site missed or was rejected in, FLTrust's last trust scores) as JSON."""
    inner = getattr(aggregator, "inner", aggregator)
    control = dict(inner.global_control) if isinstance(inner, Scaffold) else {}
    book: dict[str, Any] = {"name": aggregator.name}
    if isinstance(aggregator, Quorum):
        book["min_clients"] = aggregator.min_clients
        book["expected_sites"] = list(aggregator.expected_sites)
    missed: dict[str, int] = {}
    rejected: dict[str, int] = {}
    for r in records:
        for s in r.missing:
            missed[s] = missed.get(s, 0) + 1
        for s in r.rejected:
            rejected[s] = rejected.get(s, 0) + 1
    book["missed_rounds"] = dict(sorted(missed.items()))
    book["rejected_rounds"] = dict(sorted(rejected.items()))
    trust = {k.removeprefix("trust."): float(v) for k, v in info.items() if k.startswith("trust.")}
    if trust or "root_norm" in info:
        book["fltrust"] = {"trust": trust, "root_norm": float(info.get("root_norm", 0.0))}
    return control, book


def restore_aggregator(aggregator: Aggregator, cp: Checkpoint) -> None:
    """Put the checkpoint's aggregator state back: SCAFFOLD's global control; a different rule is refused."""
    name = cp.aggregator.get("name")
    if name is not None and name != aggregator.name:
        raise CheckpointError(
            f"checkpoint of {cp.first_job_id}: written by the {name} aggregator, not {aggregator.name}"
        )
    inner = getattr(aggregator, "inner", aggregator)
    if isinstance(inner, Scaffold):
        inner.global_control = {k: v.to(torch.float32) for k, v in cp.control.items()}


# -- one run's view -------------------------------------------------------------------------------------------


@dataclass
class RunCheckpoint:
    """The controller's handle: where this job's checkpoints go and what it continues from."""

    store: CheckpointStore
    first_job_id: str
    job_id: str
    job_digest: str
    study: str
    algorithm: str
    num_rounds: int
    restarts: tuple[Restart, ...] = ()
    last_seconds: float = 0.0
    """How long the last write took (``bench.checkpoint`` measures it)."""
    blocked_seconds: float = 0.0
    """How long the last :meth:`submit` held the round loop up (waiting for the previous write to finish)."""
    _pending: Future[Path] | None = field(default=None, init=False, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    @property
    def resumed(self) -> bool:
        return self.first_job_id != self.job_id

    def resume(self, aggregator: Aggregator, initial: StateDict) -> tuple[int, StateDict, list[RoundRecord]]:
        """Where this job starts: ``(first round to run, global state, records so far)``.

        A first job starts at 0 from ``initial``. A continuation loads its study's checkpoint (refused if it cannot
        be trusted, is for another digest, study or algorithm, or the study already completed), restores the
        aggregator and records the restart; with no checkpoint yet (the crash came in round 0) it starts at 0.
        """
        if not self.resumed:
            return 0, initial, []
        cp = self.store.load(self.first_job_id)
        where = self.store.folder(self.first_job_id)
        if cp is not None:
            if cp.job_digest != self.job_digest:
                raise CheckpointError(
                    f"{where}: for app digest {cp.job_digest[:12]}, not this job's {self.job_digest[:12]}"
                )
            if cp.study != self.study or cp.algorithm != self.algorithm or cp.num_rounds != self.num_rounds:
                raise CheckpointError(f"{where}: for another study, algorithm or number of rounds")
            if cp.completed:
                raise CheckpointError(f"{where}: that study already completed; nothing to resume")
            restore_aggregator(aggregator, cp)
        after = -1 if cp is None else cp.round
        previous = self.first_job_id if cp is None else cp.job_id  # the job that completed the last round
        restart = Restart(self.job_id, previous, after, datetime.now(UTC).isoformat(timespec="seconds"))
        self.restarts = (*(cp.restarts if cp is not None else ()), restart)
        log.info("checkpoint.resumed first_job=%s job=%s after_round=%d", self.first_job_id, self.job_id, after)
        if cp is None:
            return 0, initial, []
        return cp.round + 1, cp.state, list(cp.records)

    def save(
        self,
        rnd: int,
        state: Mapping[str, torch.Tensor],
        records: Sequence[RoundRecord],
        aggregator: Aggregator,
        info: Mapping[str, float],
    ) -> Path:
        """Persist the state after round ``rnd`` now (atomically; see the module docstring)."""
        return self._write(self._snapshot(rnd, state, records, aggregator, info))

    def submit(
        self,
        rnd: int,
        state: Mapping[str, torch.Tensor],
        records: Sequence[RoundRecord],
        aggregator: Aggregator,
        info: Mapping[str, float],
    ) -> None:
        """Persist the state after round ``rnd`` on a background thread while the next round runs (the controller's
        way: the coordinator is idle while the sites train). Writes go one at a time, in order: this first waits
        for the previous one (a failed previous write is logged, and this one is still written).

        The tensors are not copied: the controller's state and SCAFFOLD's control are replaced each round, never
        changed in place. :meth:`wait` (and :meth:`complete`) block until the write is on disk.
        """
        started = time.perf_counter()
        try:
            self.wait()
        except (OSError, CheckpointError) as exc:
            log.error("checkpoint.write_failed first_job=%s kind=%s", self.first_job_id, type(exc).__name__)
        cp = self._snapshot(rnd, state, records, aggregator, info)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fednode-checkpoint")
        self._pending = self._pool.submit(self._write, cp)
        self.blocked_seconds = time.perf_counter() - started

    def wait(self) -> Path | None:
        """Block until the checkpoint being written (if any) is on disk; re-raise its error."""
        pending, self._pending = self._pending, None
        return None if pending is None else pending.result()

    def _write(self, cp: Checkpoint) -> Path:
        started = time.perf_counter()
        path = self.store.save(cp)
        self.last_seconds = time.perf_counter() - started
        return path

    def _snapshot(
        self,
        rnd: int,
        state: Mapping[str, torch.Tensor],
        records: Sequence[RoundRecord],
        aggregator: Aggregator,
        info: Mapping[str, float],
    ) -> Checkpoint:
        control, book = aggregator_state(aggregator, info, records)
        return Checkpoint(
            first_job_id=self.first_job_id,
            job_id=self.job_id,
            job_digest=self.job_digest,
            study=self.study,
            algorithm=self.algorithm,
            num_rounds=self.num_rounds,
            round=rnd,
            state=dict(state),
            records=tuple(records),
            control=control,
            aggregator=book,
            restarts=self.restarts,
        )

    def complete(self) -> None:
        """The model is signed: mark the checkpoint so that the study cannot be resumed again (after the write
        in flight, if any, finished)."""
        self.wait()
        if (self.store.folder(self.first_job_id) / COMMIT_FILE).exists():
            self.store.mark_completed(self.first_job_id)


def first_job_of(job_id: str, meta: Mapping[str, Any]) -> str:
    """The study's first job: the job meta's :data:`RESUME_META_KEY` when this job continues one, else itself."""
    value = meta.get(RESUME_META_KEY)
    return value if isinstance(value, str) and value else job_id


def for_run(
    workspace_root: Path,
    job_id: str,
    meta: Mapping[str, Any],
    *,
    job_digest: str,
    study: str,
    algorithm: str,
    num_rounds: int,
) -> RunCheckpoint:
    """This job's checkpoint handle in the coordinator's state volume (``<workspace>/checkpoints``)."""
    return RunCheckpoint(
        store=CheckpointStore(workspace_root / CHECKPOINTS_DIR),
        first_job_id=first_job_of(job_id, meta),
        job_id=job_id,
        job_digest=job_digest,
        study=study,
        algorithm=algorithm,
        num_rounds=num_rounds,
    )
