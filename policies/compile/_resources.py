"""The fednode entries of ``local/resources.json``, merged into the provisioned one.

* ``components``: ``node.site.gate.ApprovalGate`` (id ``fednode_approval_gate``), replacing an entry with the
  same id. (The egress guard goes in privacy.json's ``components``: only those become event handlers in the job
  process.)
* ``app_validator``: ``node.site.gate.DigestValidator`` (NVFlare calls ``validate(app_folder)`` at deploy).
* ``class_list_enforcement_mode: enforce`` with a ``class_allow_list`` for config-only jobs: fednode's own
  ``node.`` classes and the NVFlare classes a config-only federated job needs, all from NVFlare's own curated
  default list (``nvflare.app_common.default_component_policy``). Nothing that launches processes.
* ``allow_log_streaming: false``: site logs never leave the site.
* the job launcher (id ``process_launcher``): ``node.site.joblauncher.SiteJobLauncher`` replaces NVFlare's
  ``ClientProcessJobLauncher`` (NVFlare allows exactly one): it runs a BYOC job's code confined, in its own
  process, never in the job process that holds the filters and the egress guard.
"""

from __future__ import annotations

import copy
from typing import Any

GATE_COMPONENTS: tuple[dict[str, Any], ...] = (
    {"id": "fednode_approval_gate", "path": "node.site.gate.ApprovalGate", "args": {}},
)
APP_VALIDATOR: dict[str, Any] = {"path": "node.site.gate.DigestValidator", "args": {}}

JOB_LAUNCHER: dict[str, Any] = {"id": "process_launcher", "path": "node.site.joblauncher.SiteJobLauncher", "args": {}}
NVFLARE_PROCESS_LAUNCHER = "nvflare.app_common.job_launcher.client_process_launcher.ClientProcessJobLauncher"

CONFIG_ONLY_CLASSES: tuple[str, ...] = (
    "node.",
    "nvflare.app_common.executors.model_learner_executor.ModelLearnerExecutor",
    "nvflare.app_common.filters.exclude_vars.ExcludeVars",
    "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy",
    "nvflare.app_common.filters.svt_privacy.SVTPrivacy",
    "nvflare.app_common.widgets.convert_to_fed_event.ConvertToFedEvent",
    "nvflare.app_common.widgets.intime_model_selector.IntimeModelSelector",
    "nvflare.app_common.widgets.validation_json_generator.ValidationJsonGenerator",
    "nvflare.app_common.workflows.fedavg.FedAvg",
    "nvflare.app_common.workflows.scaffold.Scaffold",
    "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather",
    "nvflare.app_common.shareablegenerators.full_model_shareable_generator.FullModelShareableGenerator",
    "nvflare.app_common.aggregators.intime_accumulate_model_aggregator.InTimeAccumulateWeightedAggregator",
)
"""Allowed component classes for jobs without custom code (entries ending in ``.`` are prefixes)."""

BASE_CLIENT_RESOURCES: dict[str, Any] = {
    "format_version": 2,
    "client": {"retry_timeout": 30, "compression": "Gzip"},
    "components": [
        {
            "id": "resource_manager",
            "path": "nvflare.app_common.resource_managers.gpu_resource_manager.GPUResourceManager",
            "args": {"num_of_gpus": 0, "mem_per_gpu_in_GiB": 0, "expiration_period": 300},
        },
        {
            "id": "resource_consumer",
            "path": "nvflare.app_common.resource_consumers.gpu_resource_consumer.GPUResourceConsumer",
            "args": {},
        },
        {
            "id": "process_launcher",
            "path": "nvflare.app_common.job_launcher.client_process_launcher.ClientProcessJobLauncher",
            "args": {},
        },
    ],
}
"""NVFlare 2.9's provisioned client resources (``local_client_resources`` in its master template), CPU only."""


def resource_keys() -> dict[str, Any]:
    """The top-level resources.json keys fednode sets (everything but ``components``)."""
    return {
        "app_validator": copy.deepcopy(APP_VALIDATOR),
        "class_list_enforcement_mode": "enforce",
        "class_allow_list": list(CONFIG_ONLY_CLASSES),
        "allow_log_streaming": False,
    }


def compile_resources(base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The site's resources.json: ``base`` (the provisioned file) with the fednode entries merged in."""
    out = copy.deepcopy(base if base is not None else BASE_CLIENT_RESOURCES)
    ours = {c["id"] for c in GATE_COMPONENTS} | {JOB_LAUNCHER["id"]}
    components = [
        c
        for c in out.get("components", [])
        if not (isinstance(c, dict) and (c.get("id") in ours or c.get("path") == NVFLARE_PROCESS_LAUNCHER))
    ]
    out["components"] = [*components, *copy.deepcopy(list(GATE_COMPONENTS)), copy.deepcopy(JOB_LAUNCHER)]
    out.update(resource_keys())
    out.setdefault("format_version", 2)
    return out
