"""``local/authorization.json`` in NVFlare's format 1.0 (``nvflare.fuel.sec.authz.parse_policy_config``).

Every role gets the same job rights, limited by the policy: only the allowed submitters may submit jobs here,
``byoc`` is ``"none"`` unless the policy allows bring-your-own-code (then only for the allowed submitters),
shell commands are for this site's own org admin only, and server-predeployed Flower apps are never allowed.
Conditions use NVFlare's ``n:<name>`` (certificate CN) and ``o:<org>`` forms; NVFlare lower-cases both.
"""

from __future__ import annotations

from typing import Any

from policies.contracts import JobKind
from policies.policy_model import CertIdentity, SitePolicy

ROLES = ("project_admin", "org_admin", "lead", "member")


def submitter_conditions(submitters: list[CertIdentity]) -> list[str]:
    """NVFlare condition expressions matching the allowed submitters (a named identity by CN, else its org)."""
    conds = sorted({f"n:{s.name}" if s.name else f"o:{s.org}" for s in submitters})
    for c in conds:
        if ":" in c[2:] or not c[2:].strip():
            raise ValueError(f"identity {c[2:]!r} cannot be expressed as an NVFlare condition")
    return conds


def compile_authorization(policy: SitePolicy) -> dict[str, Any]:
    submitters = submitter_conditions(policy.participants.submitters)
    byoc: str | list[str] = submitters if JobKind.BYOC in policy.jobs.kinds else "none"
    permissions: dict[str, Any] = {}
    for role in ROLES:
        permissions[role] = {
            "submit_job": submitters if role != "member" else "none",
            "clone_job": "none",
            "manage_job": "n:submitter" if role != "project_admin" else "o:site",
            "download_job": "n:submitter",
            "view": "any",
            "operate": "o:site" if role in ("project_admin", "org_admin") else "none",
            "shell_commands": "o:site" if role == "org_admin" else "none",
            "byoc": byoc if role != "member" else "none",
            "server-predeployed-flwr": "none",
        }
    return {"format_version": "1.0", "permissions": permissions}
