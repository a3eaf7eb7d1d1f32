"""``local/privacy.json``: one scope, the site default, with the policy's result filters.

NVFlare applies a site's scope filters to every task result before the job's own filters
(``PrivacyConfiger`` builds each ``{"path", "args"}`` entry; the client-side default direction is ``out``).
A job that names another scope is refused by NVFlare (and denied by the ``privacy_scope`` rule).
The file's ``components`` hold ``node.site.egress.guard.EgressGuard``: NVFlare 2.9 registers privacy.json
components as event handlers in the job process, where the guard checks every result after all filters.
Its ``release`` argument (:func:`release_args`) says how it releases bring-your-own-code results: always rounded
and bounded; with ``site_dp`` (when the policy requires DP) clipped and noised by the site, which charges its own
accountant. It lives in the guard, not in ``task_result_filters``, because site filters run before the job's own.
"""

from __future__ import annotations

from typing import Any

from policies.compile._filters import FILTERS
from policies.policy_model import FilterSpec, SitePolicy, policy_digest
from policies.verdicts import PRIVACY_SCOPE

TASK_DATA_FILTERS: tuple[dict[str, Any], ...] = ({"path": "node.site.egress.taskdata.MaterializeTaskData", "args": {}},)
"""Site task-data filters: one that changes nothing but makes NVFlare decode a pass-through global model in the job
process (Client API external-process mode), so the egress guard sees it."""

PRIVACY_COMPONENTS: tuple[dict[str, Any], ...] = (
    {"id": "fednode_egress_guard", "path": "node.site.egress.guard.EgressGuard", "args": {}},
)


def filter_entry(spec: FilterSpec, *, where: str) -> dict[str, Any]:
    """The privacy.json entry for one required filter; unknown or missing arguments raise ValueError."""
    cls = FILTERS[spec.kind]
    unknown = sorted(set(spec.args) - cls.allowed_args)
    if unknown:
        raise ValueError(f"{where}: filter {spec.kind.value} does not take {', '.join(unknown)}")
    missing = sorted(cls.required_args - set(spec.args))
    if missing:
        raise ValueError(f"{where}: filter {spec.kind.value} needs {', '.join(missing)}")
    return {"path": cls.path, "args": {**cls.defaults, **spec.args}}


def release_args(policy: SitePolicy) -> dict[str, Any]:
    """The egress guard's ``release`` argument (``node.site.egress.byoc.ReleaseConfig``) for ``policy``."""
    dp = policy.privacy.dp
    args: dict[str, Any] = {"dp_required": dp.required}
    if dp.required and dp.site_noise_multiplier is not None:
        args["site_dp"] = {
            "clip_norm": dp.site_clip_norm,
            "noise_multiplier": dp.site_noise_multiplier,
            "max_epsilon_per_job": dp.max_epsilon_per_job,
        }
    return args


def compile_privacy(policy: SitePolicy) -> dict[str, Any]:
    filters = [
        filter_entry(spec, where=f"privacy.result_filters.{i}") for i, spec in enumerate(policy.privacy.result_filters)
    ]
    scope = {
        "name": PRIVACY_SCOPE,
        "properties": {
            "site": policy.site.name,
            "policy_digest": policy_digest(policy),
            "datasets": sorted(policy.privacy.budgets),
            "dp_required": policy.privacy.dp.required,
        },
        "task_result_filters": filters,
        "task_data_filters": [dict(f) for f in TASK_DATA_FILTERS],
    }
    components = [dict(c) for c in PRIVACY_COMPONENTS]
    components[0] = {**components[0], "args": {"release": release_args(policy)}}
    return {"scopes": [scope], "default_scope": PRIVACY_SCOPE, "components": components}
