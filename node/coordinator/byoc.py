"""A researcher's own NVFlare job folder, made ready for the consortium: `fednode study submit --job-folder`.

The researcher writes an ordinary NVFlare 2.9 job (``meta.json``, ``app/config/*.json``, ``app/custom/*.py``, a
Client API script that reads ``--data_dir data --model_dir model``) and nothing fednode-specific.
:func:`prepare_byoc_job` copies it and:

* refuses what is not a job folder (no ``meta.json``, no ``deploy_map``, an app without its config, symbolic
  links, compiled files, too many bytes) with :class:`~fednode.errors.JobFolderError` (exit 4) naming the problem;
* runs the job's server side with the coordinator's own reviewed workflow (``FednodeController``: quorum,
  robust aggregation, a signed model with its provenance): the job's FedAvg / ScatterAndGather / Scaffold
  workflow is translated, keeping its rounds and client count; its persistor is dropped because the coordinator
  sends the initial weights of the consortium's base checkpoint, the one whose tokenizer and config each site
  stages in ``model/``. The translated config is part of the app the sites review;
* lists every site as mandatory when the meta does not (a site that holds a job for review is otherwise skipped);
* declares the data the job reads (the NER split's columns) and embeds the reviewable manifest.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fednode.errors import JobFolderError
from node.coordinator.study import CONTROLLER_PATH
from policies.jobfolder import read_job_folder
from policies.manifest import app_paths

log = logging.getLogger("fednode.node.coordinator.byoc")

MAX_JOB_BYTES = 2 * 1024 * 1024
"""The largest job folder (all files) submitted; a site's policy may allow less (``jobs.max_app_bytes``)."""

SERVER_WORKFLOWS: Mapping[str, str] = {
    "nvflare.app_common.workflows.fedavg.FedAvg": "fedavg",
    "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather": "fedavg",
    "nvflare.app_common.workflows.scaffold.Scaffold": "scaffold",
    "nvflare.app_common.workflows.scatter_and_gather_scaffold.ScatterAndGatherScaffold": "scaffold",
}
"""NVFlare server workflows the coordinator runs as its own, and the algorithm each one is."""

_SERVER = frozenset({"server", "@server", "@ALL"})
_CLIENTS = frozenset({"@ALL"})


@dataclass(frozen=True)
class ServerPlan:
    """What the coordinator runs for the job's server side."""

    algorithm: str
    rounds: int
    min_clients: int
    task_name: str
    source: str
    """The workflow class the researcher's config named."""


@dataclass(frozen=True)
class PreparedJob:
    """A researcher's job folder ready to submit: where it is, its client app's digest, the server plan."""

    folder: Path
    digest: str
    plan: ServerPlan
    sites: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "job_folder": str(self.folder),
            "digest": self.digest,
            "algorithm": self.plan.algorithm,
            "rounds": self.plan.rounds,
            "min_clients": self.plan.min_clients,
            "server_workflow": self.plan.source,
            "sites": list(self.sites),
        }


def check_job_folder(folder: Path, *, max_bytes: int = MAX_JOB_BYTES) -> dict[str, Any]:
    """Refuse (:class:`JobFolderError`) a folder that is not a submittable NVFlare job; return its meta.

    Reading the folder is :func:`policies.jobfolder.read_job_folder`'s and walking its apps (symbolic links,
    special and compiled files refused) :func:`policies.manifest.app_paths`'s: the same walk every manifest is
    built from. Here: the apps' configs must exist and all apps together stay under ``max_bytes``.
    """
    if folder.is_symlink():
        raise JobFolderError("not a folder (an NVFlare job folder holds meta.json and its apps)", file=str(folder))
    job = read_job_folder(folder)
    total = 0
    for app, app_dir in sorted(job.apps.items()):
        total += sum(path.stat().st_size for _, path in app_paths(app_dir))
        sites = set(job.meta["deploy_map"][app])
        if _CLIENTS & sites or sites - _SERVER:
            _need(app_dir / "config" / "config_fed_client.json")
        if _SERVER & sites:
            _need(app_dir / "config" / "config_fed_server.json")
    if total > max_bytes:
        raise JobFolderError(f"the job folder holds {total} bytes; at most {max_bytes} are accepted", file=str(folder))
    return job.meta


def server_plan(config: Mapping[str, Any], *, sites: int, file: str = "config_fed_server.json") -> ServerPlan:
    """The coordinator's run of a job's server config: its one workflow translated (see the module docstring)."""
    workflows = config.get("workflows")
    if not isinstance(workflows, list) or len(workflows) != 1 or not isinstance(workflows[0], dict):
        raise JobFolderError("the server config must have exactly one workflow", file=file, field="workflows")
    workflow = workflows[0]
    path = str(workflow.get("path") or workflow.get("name") or "")
    raw_args = workflow.get("args")
    args: dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
    if path == CONTROLLER_PATH:
        algorithm = str(args.get("algorithm", "fedavg"))
    elif path in SERVER_WORKFLOWS:
        algorithm = SERVER_WORKFLOWS[path]
    else:
        known = ", ".join(sorted(SERVER_WORKFLOWS))
        raise JobFolderError(
            f"server workflow {path or '(none)'} is not one the coordinator runs; use one of: {known}",
            file=file,
            field="workflows.path",
        )
    rounds = _positive(args.get("num_rounds", 5), "num_rounds", file)
    clients = _positive(args.get("min_clients", args.get("num_clients", sites)), "num_clients", file)
    task = str(args.get("task_name") or args.get("train_task_name") or "train")
    return ServerPlan(algorithm=algorithm, rounds=rounds, min_clients=min(clients, sites), task_name=task, source=path)


def controller_config(
    plan: ServerPlan,
    *,
    study: str,
    model_spec: str,
    eval_set: str | None = None,
    eval_limit: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The coordinator's server config for ``plan``: its workflow sends ``model_spec``'s initial weights."""
    return {
        "format_version": 2,
        "workflows": [
            {
                "id": "fednode_controller",
                "path": CONTROLLER_PATH,
                "args": {
                    "num_rounds": plan.rounds,
                    "min_clients": plan.min_clients,
                    "algorithm": plan.algorithm,
                    "algorithm_args": {},
                    "model_spec": model_spec,
                    "seed": seed,
                    "study": study,
                    "task_name": plan.task_name,
                    "round_timeout_s": 0,
                    "wait_after_min_s": 15,
                    "eval_set": eval_set,
                    "eval_limit": eval_limit,
                },
            }
        ],
        "components": [],
    }


def prepare_byoc_job(
    folder: Path,
    out_dir: Path,
    *,
    sites: Sequence[str],
    model_spec: str,
    study: str | None = None,
    eval_set: str | None = None,
    eval_limit: int | None = None,
    rounds: int | None = None,
    max_bytes: int = MAX_JOB_BYTES,
) -> PreparedJob:
    """Copy the researcher's job ``folder`` into ``out_dir``, run its server side as the coordinator's and embed
    the manifest (see the module docstring). ``model_spec`` is the consortium's base checkpoint; ``rounds``, when
    given, replaces the job's number of rounds (the local demo's ``--rounds``); ``eval_set``/``eval_limit``: a
    public CoNLL file at the coordinator that each round's global model is scored on."""
    from node.ml.ner.cdm import NER_SPLIT_COLUMNS  # lazy: node.ml.ner brings torch
    from policies.manifest import Declaration, embed_manifest

    if not sites:
        raise JobFolderError("a study needs at least one site")
    meta = check_job_folder(folder, max_bytes=max_bytes)
    name = study or str(meta.get("name") or folder.name)
    job = out_dir / name
    if job.exists():
        shutil.rmtree(job)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, job, symlinks=True)
    plans: list[ServerPlan] = []
    for app, targets in sorted(meta["deploy_map"].items()):
        if _SERVER & set(targets):
            server_file = job / app / "config" / "config_fed_server.json"
            plan = server_plan(_read_json(server_file), sites=len(sites), file=f"{app}/config/config_fed_server.json")
            if rounds is not None:
                plan = replace(plan, rounds=_positive(rounds, "rounds", "--rounds"))
            config = controller_config(
                plan, study=name, model_spec=model_spec, eval_set=eval_set, eval_limit=eval_limit
            )
            server_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            plans.append(plan)
    if len(plans) != 1:
        raise JobFolderError(
            f"deploy_map sends {len(plans)} apps to the server; exactly one is needed", file="meta.json"
        )
    plan = plans[0]
    meta["name"] = name
    meta.setdefault("resource_spec", {})
    meta["min_clients"] = min(int(meta.get("min_clients") or plan.min_clients), len(sites))
    meta.setdefault("mandatory_clients", list(sites))
    (job / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    declaration = Declaration(
        study=name, algorithm=plan.algorithm, rounds=plan.rounds, data_access=dict(NER_SPLIT_COLUMNS), dataset="omop"
    )
    digests = embed_manifest(job, declaration)
    client_apps = [a for a, t in meta["deploy_map"].items() if _CLIENTS & set(t) or set(t) - _SERVER]
    if len(client_apps) != 1:
        raise JobFolderError(f"deploy_map sends {len(client_apps)} apps to the sites; exactly one is supported")
    log.info("byoc.prepared study=%s algorithm=%s rounds=%d source=%s", name, plan.algorithm, plan.rounds, plan.source)
    return PreparedJob(folder=job, digest=digests[client_apps[0]], plan=plan, sites=tuple(sites))


def _need(path: Path) -> None:
    if not path.is_file():
        raise JobFolderError("missing: an NVFlare app needs it", file=str(path))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFolderError(f"cannot read ({type(exc).__name__})", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise JobFolderError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    if not isinstance(data, dict):
        raise JobFolderError("must be a JSON object", file=str(path))
    return data


def _positive(value: object, name: str, file: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JobFolderError(f"{name} must be a positive integer", file=file, field=name)
    return value
