"""The site's verdict rule for what a BYOC job's results will carry: the site's own DP, computed by the site.

Added to :func:`policies.verdicts.evaluate` as an extra rule (it can only deny) by the site's evaluator. For a BYOC
job under a policy that requires DP, the site cannot verify the job's DP-SGD (its code could switch the noise
off), so the egress guard adds the site's own noise (:mod:`node.site.release`). The reviewer sees the epsilon the
site will charge for the job's rounds beside what the job declares, and the job is denied when:

* the policy requires DP but sets no ``privacy.dp.site_noise_multiplier``;
* the site's epsilon over the job's approved rounds passes ``max_epsilon_per_job`` or the dataset's remaining
  budget (each round would otherwise be blocked at egress once the budget runs out).
"""

from __future__ import annotations

from policies.contracts import Finding, JobKind, JobManifest, RuleOutcome, RuleResult
from policies.ledger import epsilon_of
from policies.verdicts import SiteState

RULE = "site_dp"


def site_dp_rule(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    """The ``site_dp`` rule (see the module doc)."""
    if job.kind is not JobKind.BYOC:
        return RuleResult(RULE, RuleOutcome.ALLOW, "config-only job: the site's trainer applies the policy's DP-SGD")
    dp_policy = state.policy.privacy.dp
    if not dp_policy.required:
        return RuleResult(RULE, RuleOutcome.ALLOW, "results are rounded and bounded at egress; DP is not required")
    if dp_policy.site_noise_multiplier is None:
        return RuleResult(
            RULE,
            RuleOutcome.DENY,
            "the site policy requires DP but sets no site noise for job code (privacy.dp.site_noise_multiplier)",
        )
    from node.site.release import SiteDp  # numpy and torch: only when a BYOC job under DP is judged

    dp = SiteDp(dp_policy.site_clip_norm, dp_policy.site_noise_multiplier)
    epsilon = epsilon_of([(dp.record_multiplier, 1.0, job.rounds)], dp_policy.delta, dp_policy.accountant)
    declared = f"; the job declares epsilon {job.dp.target_epsilon:g} (not trusted)" if job.dp else ""
    what = (
        f"the site clips every update to {dp.clip_norm:g} and adds noise x{dp.noise_multiplier:g}: "
        f"epsilon {epsilon:.3g} over {job.rounds} rounds by the site's accountant{declared}"
    )
    remaining = state.budget_remaining.get(job.dataset)
    if epsilon > dp_policy.max_epsilon_per_job:
        return RuleResult(RULE, RuleOutcome.DENY, f"{what}, over {dp_policy.max_epsilon_per_job:g} per job")
    if remaining is not None and epsilon > remaining:
        return RuleResult(RULE, RuleOutcome.DENY, f"{what}, over the {remaining:.3g} left for {job.dataset}")
    return RuleResult(RULE, RuleOutcome.ALLOW, what)
