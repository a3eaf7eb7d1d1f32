"""The site's verdict rule for BYOC jobs: can this site run the job's code confined?

Added to :func:`policies.verdicts.evaluate` as an extra rule (it can only deny) by the site's evaluator
(``node.site.live_state``). A BYOC job is denied, with a reason for the reviewer and the researcher:

* where the kernel cannot confine job code (:func:`node.site.sandbox.probe`): config-only jobs still run;
* where an app's ``config/config_fed_client.json`` asks for something the site cannot run confined
  (:func:`node.site.byoc_config.plan_client_config`) or names a training script the app does not carry.

Config-only jobs pass untouched. The job launcher applies the same checks again at launch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Protocol

from fednode.errors import ByocConfigError
from node.site.byoc_config import plan_client_config_text, resolve_script
from policies.contracts import Finding, JobKind, JobManifest, RuleOutcome, RuleResult
from policies.verdicts import Rule, SiteState

RULE = "byoc_sandbox"
CLIENT_CONFIG = "config/config_fed_client.json"


class _Support(Protocol):
    """What :func:`node.site.sandbox.probe` returns that this rule reads."""

    @property
    def available(self) -> bool: ...

    @property
    def reason(self) -> str: ...


def sandbox_rule(probe: Callable[[], _Support] | None = None) -> Rule:
    """The rule, with the kernel probed once (``probe`` defaults to :func:`node.site.sandbox.probe`)."""

    @functools.cache
    def support() -> _Support:
        if probe is not None:
            return probe()
        from node.site.sandbox import probe as kernel_probe

        return kernel_probe()

    def byoc_sandbox(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
        if job.kind is not JobKind.BYOC:
            return RuleResult(RULE, RuleOutcome.ALLOW, "config-only job: runs the site's own trainer")
        got = support()
        if not got.available:
            return RuleResult(
                RULE,
                RuleOutcome.DENY,
                f"this site cannot confine job code ({got.reason}): it refuses BYOC jobs; config-only jobs still run",
            )
        reason = check_manifest(job, state.policy.jobs.byoc_components)
        if reason:
            return RuleResult(RULE, RuleOutcome.DENY, reason)
        limits = state.policy.sandbox
        return RuleResult(
            RULE,
            RuleOutcome.ALLOW,
            "the job's code runs confined: no network but its channel to the job process, its own folder, the "
            f"staged data read-only; at most {limits.wall_minutes} min, {limits.max_processes} processes",
        )

    return byoc_sandbox


def check_manifest(job: JobManifest, extra_classes: Iterable[str] = ()) -> str | None:
    """Why the job's client config cannot run confined, or ``None`` if it can (``extra_classes``: the policy's
    additions to the component table, ``jobs.byoc_components``)."""
    by_path = {f.path: f for f in job.files}
    config = by_path.get(CLIENT_CONFIG)
    if config is None or config.content is None:
        return f"a BYOC app needs a readable {CLIENT_CONFIG} (NVFlare's Client API job layout)"
    try:
        resolve_script(plan_client_config_text(config.content, extra_classes), by_path)
    except ByocConfigError as exc:
        return exc.message
    return None
