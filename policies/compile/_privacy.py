"""``local/privacy.json``: one scope, the site default, with the policy's result filters.

NVFlare applies a site's scope filters to every task result before the job's own filters
(``PrivacyConfiger`` builds each ``{"path", "args"}`` entry; the client-side default direction is ``out``).
A job that names another scope is refused by NVFlare (and denied by the ``privacy_scope`` rule).
The file's ``components`` hold ``node.site.egress.guard.EgressGuard``: NVFlare 2.9 registers privacy.json
components as event handlers in the job process, where the guard checks every result after all filters.
"""

from __future__ import annotations

from typing import Any

from policies.compile._filters import FILTERS
from policies.policy_model import FilterSpec, SitePolicy, policy_digest
from policies.verdicts import PRIVACY_SCOPE

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
        "task_data_filters": [],
    }
    return {"scopes": [scope], "default_scope": PRIVACY_SCOPE, "components": [dict(c) for c in PRIVACY_COMPONENTS]}
