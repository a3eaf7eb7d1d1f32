"""``fednode study resume JOB``: continue a study whose coordinator went down, from its last completed round.

NVFlare's answer to a crashed server is to restart it and submit the job again from round 0; a restart marks the
job that was running ``FINISHED:ABANDONED`` (or ``FINISHED:ABNORMAL``). Resuming downloads that job's own
definition from the coordinator's job store (the bytes the sites reviewed, manifest included), adds one top-level
meta key, :data:`node.kit.meta.RESUME_META_KEY` = the study's first job id, and submits it again: the app and its
digest, the declared fields and the pinned meta are unchanged, so each site carries its approval over without a new
review (``node.site.resume``), and the controller continues from the checkpoint of the first job
(``node.coordinator.checkpoint``).

Resuming is a command, not automatic at coordinator start: NVFlare's server marks an interrupted job finished when it
starts again and schedules only submitted jobs; it has no hook that submits a job on its own at start-up (and the
admin's identity, which NVFlare requires to submit, lives in the admin kit, not at the server).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fednode.atomic import write_text_atomic
from fednode.errors import CheckpointError, JobStateError, NotFoundError, ServiceError
from node.coordinator.checkpoint import CHECKPOINTS_DIR, CheckpointStore
from node.coordinator.study import COMPLETED_STATES, StudyClient, _status
from node.kit.meta import RESUME_META_KEY
from policies.manifest import META_KEY

log = logging.getLogger("fednode.node.coordinator.resume")

JOB_DEFINITION = "job"
"""The folder of a downloaded job result that holds the job definition (NVFlare's ``job.zip``, unzipped)."""


@dataclass(frozen=True)
class Resumed:
    """What ``study resume`` did."""

    job_id: str
    """The new job that continues the study."""
    resumed: str
    """The job that was interrupted."""
    first_job: str
    after_round: int | None
    """The last round the coordinator's checkpoint holds (``None``: not readable from here, or none yet)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "resumed": self.resumed,
            "first_job": self.first_job,
            "after_round": self.after_round,
        }


def job_definition(result: Path) -> Path:
    """The job folder (``meta.json`` with the fednode manifest, and the apps) inside a downloaded job result."""
    root = result / JOB_DEFINITION
    candidates = sorted(p.parent for p in root.glob("*/meta.json")) if root.is_dir() else []
    for folder in candidates:
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict) and META_KEY in meta:
            return folder
    raise NotFoundError(f"{result}: the job result holds no job definition with a fednode manifest")


def last_round(server_dir: Path, first_job: str) -> int | None:
    """The last round checkpointed for the study (``None`` when the checkpoint is not on this machine or none was
    written yet); a checkpoint that cannot be trusted is refused here already (:class:`CheckpointError`)."""
    store = CheckpointStore(server_dir / CHECKPOINTS_DIR)
    if not store.root.is_dir():
        return None
    cp = store.load(first_job)
    if cp is not None and cp.completed:
        raise CheckpointError(f"{store.folder(first_job)}: the study already completed; nothing to resume")
    return None if cp is None else cp.round


def resume_study(client: StudyClient, job_id: str, scratch: Path) -> Resumed:
    """Submit ``job_id``'s own definition again as a continuation of its study; see the module docstring."""
    from node.coordinator.launcher import admin_session

    client.check_reachable()
    with admin_session(client.federation, client.timeout_s) as sess:
        status = _status(sess, job_id)
        if status.status in COMPLETED_STATES:
            raise JobStateError(f"job {job_id} completed; there is nothing to resume")
        if not status.done:
            raise JobStateError(
                f"job {job_id} is {status.status or 'unknown'}: resume a study only after its job ended (a restarted "
                "coordinator marks the job that was running FINISHED:ABANDONED)"
            )
        try:
            stored = sess.get_job_meta(job_id)
        except Exception as exc:  # NVFlare raises its own exception types
            raise NotFoundError(f"job {job_id}: {type(exc).__name__}: {exc}") from exc
        first = stored.get(RESUME_META_KEY) if isinstance(stored, dict) else None
        first_job = first if isinstance(first, str) and first else job_id
        after = last_round(client.federation.server_dir, first_job)
        try:
            location = sess.download_job_result(job_id, str(scratch / "download"))
        except Exception as exc:  # NVFlare raises its own exception types
            raise ServiceError(f"job {job_id}: cannot download its definition: {type(exc).__name__}: {exc}") from exc
        if not location:
            raise NotFoundError(f"job {job_id}: the coordinator holds no definition for it")
        source = job_definition(Path(location))
        folder = scratch / "resubmit" / source.name
        shutil.copytree(source, folder)
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta[RESUME_META_KEY] = first_job
        write_text_atomic(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        try:
            new_id = str(sess.submit_job(str(folder)))
        except Exception as exc:  # NVFlare raises its own exception types
            raise ServiceError(f"the coordinator refused the job: {type(exc).__name__}: {exc}") from exc
    log.info("study.resumed job_id=%s resumed=%s first=%s after_round=%s", new_id, job_id, first_job, after)
    return Resumed(new_id, job_id, first_job, after)
