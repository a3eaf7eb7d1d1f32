"""Studies from the coordinator's side: build the NER job, submit it, follow it, download the signed model.

A study is a config-only NVFlare job: one app (``app``) holding the coordinator's workflow
(:class:`node.coordinator.controller.FednodeController`) and the sites' built-in, reviewed NER executor. Every site
is listed in ``deploy_map`` and ``mandatory_clients`` (a site that is not mandatory is skipped, not waited for,
when it holds a job for review). The manifest the sites review (every file, the app digest, the declared study) is
embedded into the job meta before submission (:func:`policies.manifest.embed_manifest`).

Submission, status and download go through the FLARE API (``new_secure_session``) with the admin's startup kit.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fednode.errors import BadInputError, ConfigError, NotFoundError, ServiceError
from node.coordinator.credit import CreditConfig
from node.coordinator.root_set import root_train_args
from node.kit.crosssite import VALIDATE_TASK
from node.kit.layout import COORDINATOR_PUBLIC_KEY, Federation
from node.ml.fine_tuning import check_fine_tuning
from node.ml.secagg import TASKS as SECAGG_TASKS
from node.ml.secagg import study_refusal
from policies.manifest import Declaration, embed_manifest

log = logging.getLogger("fednode.node.coordinator.study")

APP_NAME = "app"
CONTROLLER_PATH = "node.coordinator.controller.FednodeController"
EXECUTOR_PATH = "node.site.executor.NerExecutor"
TRAIN_TASK = "train"
COMPLETED_STATES = ("FINISHED:COMPLETED", "FINISHED_OK")
TERMINAL_STATES = (
    "FINISHED:COMPLETED",
    "FINISHED:ABORTED",
    "FINISHED:EXECUTION_EXCEPTION",
    "FAILED",
    "FINISHED:ABANDONED",
    "FINISHED:CANT_SCHEDULE",
    "ABORTED",
    "FINISHED_OK",
    "FINISHED_ABORTED",
)


@dataclass(frozen=True)
class StudySpec:
    """What a study asks of the federation. Everything here is shown to each site's reviewers."""

    name: str
    sites: tuple[str, ...]
    rounds: int = 3
    min_clients: int | None = None
    """Quorum per round; ``None``: every site."""
    algorithm: str = "fedavg"
    algorithm_args: Mapping[str, Any] = field(default_factory=dict)
    model_spec: str = "minilm"
    """``minilm`` (bundled), ``tiny`` (tests) or a checkpoint folder that exists at the coordinator and every site."""
    local_epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_examples: int | None = None
    fedprox_mu: float = 0.0
    schedule: str = "constant"
    """Fine-tuning options at the sites (:mod:`node.ml.fine_tuning`); ``model_spec`` ending in ``+crf`` adds a CRF."""
    head_lr: float | None = None
    subword_labels: str = "first"
    seed: int = 0
    wait_after_min_s: int = 15
    round_timeout_s: int = 0
    executor_args: Mapping[str, Any] = field(default_factory=dict)
    eval_set: str | None = None
    """A CoNLL file of public sentences at the coordinator to score each round's global model on."""
    eval_limit: int | None = None
    root_set: str | None = None
    """FLTrust: the coordinator's root set (a CoNLL file there); ``None``: the bundled NCBI-disease devel set."""
    root_size: int = 100
    """FLTrust: how many of the root set's first sentences the coordinator trains on each round."""
    limitations: str = ""
    """The submitter's limitations section of the model card (``fednode study submit --limitations FILE``)."""
    spread_threshold: float = 0.1
    """The model card flags a best-to-worst F1 spread between sites or groups above this."""
    cross_site: bool = True
    """Cross-site evaluation of the final model at every site (the ``validate`` task) for the model card."""
    secure_aggregation: bool = False
    """Pairwise-masking secure aggregation (docs/secure-aggregation.md): the coordinator learns only the sum."""
    secagg_threshold: int | None = None
    """Sites whose shares rebuild a dropped site's masks; ``None``: a strict majority of the sites, at least 2."""
    credit: Mapping[str, Any] = field(default_factory=dict)
    """The coordinator's credit record and policy (``node.coordinator.credit.CreditConfig`` keys, e.g.
    ``{"min_score": 0.5, "action": "exclude"}``); empty: the record with its defaults, no policy."""

    def __post_init__(self) -> None:
        if not self.sites:
            raise ConfigError("a study needs at least one site")
        if self.rounds < 1:
            raise ConfigError("rounds must be at least 1")
        check_fine_tuning(schedule=self.schedule, head_lr=self.head_lr, subword_labels=self.subword_labels)
        extra = {k: self.executor_args[k] for k in ("schedule", "head_lr", "subword_labels") if k in self.executor_args}
        check_fine_tuning(**extra, names={k: f"executor_args {k}" for k in extra})
        quorum = self.quorum
        if not 1 <= quorum <= len(self.sites):
            raise ConfigError(f"min_clients must be between 1 and {len(self.sites)}, got {quorum}")
        if self.root_size < 1:
            raise ConfigError(f"root_size must be at least 1, got {self.root_size}")
        if not 0.0 <= self.spread_threshold <= 1.0:
            raise ConfigError(f"spread_threshold must be between 0 and 1, got {self.spread_threshold}")
        CreditConfig.from_args(self.credit, algorithm=self.algorithm)
        if self.secure_aggregation:
            refusal = study_refusal(self.algorithm, len(self.sites), self.secagg_threshold)
            if refusal is not None:
                raise ConfigError(refusal)

    def _secagg_args(self) -> dict[str, Any] | None:
        if not self.secure_aggregation:
            return None
        return {} if self.secagg_threshold is None else {"threshold": self.secagg_threshold}

    @property
    def quorum(self) -> int:
        return len(self.sites) if self.min_clients is None else self.min_clients


def server_config(spec: StudySpec) -> dict[str, Any]:
    args: dict[str, Any] = {
        "num_rounds": spec.rounds,
        "min_clients": spec.quorum,
        "algorithm": spec.algorithm,
        "algorithm_args": dict(spec.algorithm_args),
        "model_spec": spec.model_spec,
        "seed": spec.seed,
        "study": spec.name,
        "task_name": TRAIN_TASK,
        "round_timeout_s": spec.round_timeout_s,
        "wait_after_min_s": spec.wait_after_min_s,
        "eval_set": spec.eval_set,
        "eval_limit": spec.eval_limit,
        "validate_task": VALIDATE_TASK if spec.cross_site else "",
        "limitations": spec.limitations,
        "spread_threshold": spec.spread_threshold,
    }
    if spec.secure_aggregation:
        args["secure_aggregation"] = spec._secagg_args()
    if spec.credit:
        args["credit"] = dict(spec.credit)
    if spec.algorithm == "fltrust":
        # the coordinator's root update trains exactly as the sites do
        args.update(root_set=spec.root_set, root_size=spec.root_size, root_train=root_train_args(executor_args(spec)))
    return {
        "format_version": 2,
        "workflows": [{"id": "fednode_controller", "path": CONTROLLER_PATH, "args": args}],
        "components": [],
    }


def client_config(spec: StudySpec) -> dict[str, Any]:
    return {
        "format_version": 2,
        "executors": [
            {
                "tasks": [*study_tasks(spec), *(SECAGG_TASKS if spec.secure_aggregation else ())],
                "executor": {"id": "fednode_ner", "path": EXECUTOR_PATH, "args": executor_args(spec)},
            }
        ],
        "task_data_filters": [],
        "task_result_filters": [],
        "components": [],
    }


def study_tasks(spec: StudySpec) -> tuple[str, ...]:
    """The built-in executor's tasks: training and, with cross-site evaluation, ``validate``."""
    return (TRAIN_TASK, VALIDATE_TASK) if spec.cross_site else (TRAIN_TASK,)


def executor_args(spec: StudySpec) -> dict[str, Any]:
    """The sites' trainer arguments (``NerExecutor``)."""
    args: dict[str, Any] = {
        "model_spec": spec.model_spec,
        "local_epochs": spec.local_epochs,
        "batch_size": spec.batch_size,
        "learning_rate": spec.learning_rate,
        "seed": spec.seed,
    }
    if spec.max_examples is not None:
        args["max_examples"] = spec.max_examples
    if spec.fedprox_mu:
        args["fedprox_mu"] = spec.fedprox_mu
    if spec.schedule != "constant":
        args["schedule"] = spec.schedule
    if spec.head_lr is not None:
        args["head_lr"] = spec.head_lr
    if spec.subword_labels != "first":
        args["subword_labels"] = spec.subword_labels
    if spec.cross_site:
        args["validate_task"] = VALIDATE_TASK
    args.update(spec.executor_args)
    return args


def build_job(spec: StudySpec, out_dir: Path) -> tuple[Path, str]:
    """Write the job folder ``out_dir/<name>`` with the manifest embedded; return it and the app digest."""
    job = out_dir / spec.name
    if job.exists():
        shutil.rmtree(job)
    config = job / APP_NAME / "config"
    config.mkdir(parents=True)
    _write(config / "config_fed_server.json", server_config(spec))
    _write(config / "config_fed_client.json", client_config(spec))
    meta = {
        "name": spec.name,
        "resource_spec": {},
        "deploy_map": {APP_NAME: ["server", *spec.sites]},
        "min_clients": len(spec.sites),
        "mandatory_clients": list(spec.sites),
    }
    _write(job / "meta.json", meta)
    from node.ml.ner.cdm import NER_SPLIT_COLUMNS  # lazy: node.ml.ner brings torch

    declaration = Declaration(
        study=spec.name,
        algorithm=spec.algorithm,
        rounds=spec.rounds,
        data_access=NER_SPLIT_COLUMNS,
        dataset="omop",
        secure_aggregation=True if spec.secure_aggregation else None,
    )
    digests = embed_manifest(job, declaration)
    return job, digests[APP_NAME]


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# -- the FLARE API side ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: str
    name: str
    schedule_count: int
    last_schedule_reason: str
    failure: str = ""
    """Why a study that ended without completing failed, from its ``run_status.json`` (empty when unknown)."""

    @property
    def done(self) -> bool:
        return self.status.startswith("FINISHED") or self.status in TERMINAL_STATES

    @property
    def failed(self) -> bool:
        return self.done and self.status not in COMPLETED_STATES

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "name": self.name,
            "schedule_count": self.schedule_count,
            "last_schedule_reason": self.last_schedule_reason,
            "failure": self.failure,
        }


ADMIN_CONFIG = Path("startup") / "fed_admin.json"
"""The admin kit's endpoint file (written by provisioning): the coordinator's admin host and port."""


def admin_endpoint(federation: Federation) -> tuple[str, int]:
    """The coordinator's admin ``(host, port)`` as the admin kit names it; a missing or unreadable kit is bad input."""
    path = federation.admin_dir / ADMIN_CONFIG
    if not path.is_file():
        raise BadInputError(
            "no admin kit here; provision the federation with `fednode provision` (or pass --federation)",
            file=str(path),
        )
    try:
        admin = json.loads(path.read_text(encoding="utf-8"))["admin"]
        return str(admin["host"]), int(admin["port"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(
            f"not an admin kit's endpoint file ({type(exc).__name__}); provision again with `fednode provision`",
            file=str(path),
        ) from None


def check_reachable(host: str, port: int, timeout_s: float) -> None:
    """Fail fast, before NVFlare's admin API retries for a minute: the coordinator's admin port must accept TCP."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except TimeoutError:
        why = f"timed out after {timeout_s:g} s"
    except ConnectionRefusedError:
        why = "connection refused"
    except socket.gaierror:
        why = "unknown host"
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
    raise ServiceError(
        f"coordinator {host}:{port} is not reachable ({why}): start it (`fednode coordinator start`) or check "
        "the host, port and firewall in the admin kit"
    )


class StudyClient:
    """Submit, watch and download studies as the consortium's admin (mutual TLS, the admin startup kit)."""

    def __init__(self, federation: Federation, *, timeout_s: float = 60.0, connect_timeout_s: float = 5.0) -> None:
        self.federation = federation
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s

    def check_reachable(self) -> None:
        """The admin kit is there and the coordinator's admin port answers (else fail in seconds, not a minute)."""
        host, port = admin_endpoint(self.federation)
        check_reachable(host, port, self.connect_timeout_s)

    def _session(self) -> Any:
        from node.coordinator.launcher import admin_session

        self.check_reachable()
        return admin_session(self.federation, self.timeout_s)

    def submit(self, job_folder: Path) -> str:
        with self._session() as sess:
            try:
                job_id = str(sess.submit_job(str(job_folder)))
            except Exception as exc:  # NVFlare raises its own exception types
                raise ServiceError(f"the coordinator refused the job: {type(exc).__name__}: {exc}") from exc
        log.info("study.submitted job_id=%s", job_id)
        from node.coordinator.resume import keep_submission  # `study resume` resubmits these very bytes

        keep_submission(self.federation.root, job_id, job_folder)
        return job_id

    def status(self, job_id: str) -> JobStatus:
        """The job's status; for a study that ended without completing, also why (read from its result)."""
        with self._session() as sess:
            status = _status(sess, job_id)
            if status.failed:
                status = replace(status, failure=_failure_reason(sess, job_id))
            return status

    def wait(
        self,
        job_id: str,
        *,
        until: Callable[[JobStatus], bool] | None = None,
        timeout_s: float = 3600.0,
        poll_s: float = 2.0,
        on_poll: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Poll until ``until(status)`` holds (default: the job ended) or the timeout passes."""
        until = until or (lambda s: s.done)
        deadline = time.monotonic() + timeout_s
        with self._session() as sess:
            while True:
                status = _status(sess, job_id)
                if on_poll is not None:
                    on_poll(status)
                if until(status):
                    return status
                if time.monotonic() > deadline:
                    raise ServiceError(f"job {job_id}: still {status.status} after {timeout_s:.0f} s")
                time.sleep(poll_s)

    def download(self, job_id: str, destination: Path) -> Path:
        """Download the job's result folder into ``destination``; return where the signed model lies."""
        with self._session() as sess:
            destination.mkdir(parents=True, exist_ok=True)
            try:
                location = sess.download_job_result(job_id, str(destination))
            except Exception as exc:  # NVFlare raises its own exception types
                raise ServiceError(f"job {job_id}: download failed: {type(exc).__name__}: {exc}") from exc
        if not location:
            raise NotFoundError(f"job {job_id}: the coordinator has no result for it")
        return find_model_folder(Path(location))

    def trusted_key(self) -> str:
        """The coordinator's public key as pinned at the sites by provisioning."""
        site_dir = next(iter(self.federation.site_dirs.values()))
        return (site_dir / "local" / COORDINATOR_PUBLIC_KEY).read_text(encoding="ascii")


def _status(sess: Any, job_id: str) -> JobStatus:
    try:
        meta = sess.get_job_meta(job_id)
    except Exception as exc:  # NVFlare raises its own exception types
        raise NotFoundError(f"job {job_id}: {type(exc).__name__}: {exc}") from exc
    history = meta.get("schedule_history") or []
    last = str(history[-1]) if history else ""
    return JobStatus(
        job_id=job_id,
        status=str(meta.get("status", "")),
        name=str(meta.get("name", "")),
        schedule_count=int(meta.get("schedule_count", 0) or 0),
        last_schedule_reason=last[:300],
    )


def _failure_reason(sess: Any, job_id: str) -> str:
    """Why a finished study failed, from the ``run_status.json`` in its result; empty when it holds none."""
    from node.coordinator.run_status import read_run_status

    with tempfile.TemporaryDirectory(prefix="fednode-status-") as tmp:
        try:
            location = sess.download_job_result(job_id, tmp)
        except Exception as exc:  # NVFlare raises its own exception types; the status stands without a reason
            log.warning("study.status_reason_unavailable job_id=%s kind=%s", job_id, type(exc).__name__)
            return ""
        status = read_run_status(Path(location)) if location else None
    if status is None or not status.failed:
        return ""
    return f"failed after {status.rounds_done} round(s): {status.reason}"


def find_model_folder(result: Path) -> Path:
    """The folder inside a downloaded job result that holds the signed model.

    A study that failed has none: its ``run_status.json`` says why (``ServiceError`` with that reason).
    """
    from node.coordinator.run_status import read_run_status
    from node.coordinator.signing import MODEL_FILE

    hits = sorted(result.rglob(MODEL_FILE))
    if not hits:
        status = read_run_status(result)
        if status is not None and status.failed:
            raise ServiceError(f"the study failed after {status.rounds_done} round(s): {status.reason}")
        raise NotFoundError(f"{result}: the job result holds no {MODEL_FILE}")
    return hits[0].parent


def read_rounds(model_folder: Path) -> list[dict[str, Any]]:
    """The per-round records the controller wrote next to the model (``rounds.jsonl``)."""
    from node.coordinator.controller import ROUNDS_FILE

    path = model_folder / ROUNDS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sites_from(names: Sequence[str] | None, federation: Federation) -> tuple[str, ...]:
    """The study's sites: those named, or every provisioned site."""
    sites = tuple(names) if names else tuple(federation.site_dirs)
    unknown = sorted(set(sites) - set(federation.site_dirs))
    if unknown:
        raise ConfigError(f"not provisioned in this federation: {unknown}")
    return sites
