"""``fednode study resume JOB``: continue a study whose coordinator went down, from its last completed round.

NVFlare's answer to a crashed server is to restart it and submit the job again from round 0. NVFlare 2.9's server
does not even mark the interrupted job ended when it starts again: the job store keeps it ``RUNNING`` although no
process runs it (``resume_study`` tells the two apart by the server's list of running jobs).

Resuming submits the interrupted job's own definition again (the copy kept when it was submitted,
:func:`keep_submission`, checked against the manifest digest the coordinator stored for that job; else, for a job
the coordinator marked finished, the definition downloaded from its job store) with one top-level meta key added,
:data:`node.kit.meta.RESUME_META_KEY` = the study's first job id. The app and its digest, the declared fields and
the pinned meta are unchanged, so each site carries its approval over without a new review (``node.site.resume``),
and the controller continues from the first job's checkpoint (``node.coordinator.checkpoint``).

Resuming is a command, not automatic at coordinator start: NVFlare's server has no hook that submits a job on its
own at start-up, and submitting needs the admin's identity, which lives in the admin kit, not at the server.
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


SUBMITTED_DIR = "submitted-jobs"
"""Under the federation folder: ``<job id>/<job folder>``, each job's definition as it was submitted."""


def keep_submission(federation_root: Path, job_id: str, job_folder: Path) -> Path | None:
    """Keep a copy of a submitted job's definition (for ``study resume``); a failure to copy is only logged."""
    if not job_id or "/" in job_id or job_id in (".", ".."):
        return None
    target = federation_root / SUBMITTED_DIR / job_id / job_folder.name
    try:
        if target.parent.exists():
            shutil.rmtree(target.parent)
        shutil.copytree(job_folder, target, symlinks=True)
    except OSError as exc:
        log.warning("study.submission_not_kept job_id=%s kind=%s", job_id, type(exc).__name__)
        return None
    return target


def kept_submission(federation_root: Path, job_id: str) -> Path | None:
    """The kept definition of ``job_id`` (see :func:`keep_submission`), or ``None``."""
    folder = federation_root / SUBMITTED_DIR / job_id
    found = sorted(p.parent for p in folder.glob("*/meta.json")) if folder.is_dir() else []
    return found[0] if len(found) == 1 else None


def _definition(sess: Any, federation_root: Path, job_id: str, stored: dict[str, Any], scratch: Path) -> Path:
    """The job's definition: the copy kept at submission (its manifest must be the one the coordinator stored for
    the job), else the one in the coordinator's job store (only a job it marked finished can be downloaded)."""
    from node.coordinator.provenance import job_digest_from_meta

    expected = job_digest_from_meta(stored)
    kept = kept_submission(federation_root, job_id)
    if kept is not None:
        try:
            meta = json.loads((kept / "meta.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            meta = {}
        if isinstance(meta, dict) and expected and job_digest_from_meta(meta) == expected:
            return kept
        log.warning("study.kept_submission_differs job_id=%s", job_id)
    if not str(stored.get("status", "")).startswith("FINISHED"):
        raise NotFoundError(
            f"job {job_id}: no copy of its definition was kept here ({federation_root / SUBMITTED_DIR}) and the "
            "coordinator serves a job's definition only once it is marked finished"
        )
    try:
        location = sess.download_job_result(job_id, str(scratch / "download"))
    except Exception as exc:  # NVFlare raises its own exception types
        raise ServiceError(f"job {job_id}: cannot download its definition: {type(exc).__name__}: {exc}") from exc
    if not location:
        raise NotFoundError(f"job {job_id}: the coordinator holds no definition for it")
    source = job_definition(Path(location))
    meta = json.loads((source / "meta.json").read_text(encoding="utf-8"))
    if job_digest_from_meta(meta) != expected:
        raise CheckpointError(f"job {job_id}: the stored definition's manifest is not the one its job meta names")
    return source


def resume_study(client: StudyClient, job_id: str, scratch: Path, *, workspaces: tuple[Path, ...] = ()) -> Resumed:
    """Submit ``job_id``'s own definition again as a continuation of its study; see the module docstring.

    ``workspaces``: where else the coordinator's FLARE workspace may lie on this machine (in the container:
    ``settings.nvflare_workspace``), to report the last checkpointed round; the kit's folder is always looked at."""
    from node.coordinator.launcher import admin_session

    client.check_reachable()
    root = client.federation.root
    with admin_session(client.federation, client.timeout_s) as sess:
        status = _status(sess, job_id)
        if status.status in COMPLETED_STATES:
            raise JobStateError(f"job {job_id} completed; there is nothing to resume")
        try:
            stored = sess.get_job_meta(job_id)
            running = {j.job_id for j in sess.get_system_info().job_info}
        except Exception as exc:  # NVFlare raises its own exception types
            raise NotFoundError(f"job {job_id}: {type(exc).__name__}: {exc}") from exc
        if job_id in running:
            raise JobStateError(
                f"job {job_id} is {status.status} and the coordinator is running it: resume a study only after its "
                "coordinator went down and was started again"
            )
        if not (status.done or status.status in ("RUNNING", "DISPATCHED")):
            raise JobStateError(
                f"job {job_id} is {status.status or 'unknown'}: it never ran, there is nothing to resume"
            )
        stored = stored if isinstance(stored, dict) else {}
        first = stored.get(RESUME_META_KEY)
        first_job = first if isinstance(first, str) and first else job_id
        after = next(
            (r for w in (client.federation.server_dir, *workspaces) if (r := last_round(w, first_job)) is not None),
            None,
        )
        source = _definition(sess, root, job_id, stored, scratch)
        folder = scratch / "resubmit" / source.name
        shutil.copytree(source, folder, symlinks=True)
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta[RESUME_META_KEY] = first_job
        write_text_atomic(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        try:
            new_id = str(sess.submit_job(str(folder)))
        except Exception as exc:  # NVFlare raises its own exception types
            raise ServiceError(f"the coordinator refused the job: {type(exc).__name__}: {exc}") from exc
    keep_submission(root, new_id, folder)
    log.info("study.resumed job_id=%s resumed=%s first=%s after_round=%s", new_id, job_id, first_job, after)
    return Resumed(new_id, job_id, first_job, after)
