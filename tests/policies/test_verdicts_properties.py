"""Properties of the policy engine over random policies, jobs and site states (Hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.contracts import JobManifest, RuleOutcome, RuleResult
from policies.policy_model import SitePolicy
from policies.verdicts import SiteState, blocking_rules, evaluate
from tests.strategies import job_manifests, site_policies, site_state_args, tightened_policy_pairs

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(tightened_policy_pairs(), job_manifests(), site_state_args())
def test_a_stricter_policy_never_allows_more(
    pair: tuple[SitePolicy, SitePolicy, str], job: JobManifest, args: dict[str, Any]
) -> None:
    loose, strict, how = pair
    v_loose = evaluate(job, SiteState(loose, **args))
    v_strict = evaluate(job, SiteState(strict, **args))
    assert blocking_rules(v_loose) <= blocking_rules(v_strict), how
    if v_strict.allowed:
        assert v_loose.allowed, how


@FAST
@given(site_policies(), job_manifests(), site_state_args(), st.sampled_from(["x", "y"]))
def test_an_extra_deny_rule_never_widens(policy: SitePolicy, job: JobManifest, args: dict[str, Any], name: str) -> None:
    def extra(j: JobManifest, s: SiteState, findings: object) -> RuleResult:
        return RuleResult(name, RuleOutcome.DENY if j.rounds % 2 else RuleOutcome.ALLOW, "site-specific rule")

    base = evaluate(job, SiteState(policy, **args))
    more = evaluate(job, SiteState(policy, **args), extra_rules=[extra])
    assert blocking_rules(base) <= blocking_rules(more)
    assert more.allowed <= base.allowed  # allowed with the extra rule implies allowed without it


@FAST
@given(site_policies(), job_manifests(), site_state_args(), st.integers(1, 3650))
def test_an_expired_ethics_approval_denies_everything(
    policy: SitePolicy, job: JobManifest, args: dict[str, Any], days_after: int
) -> None:
    expiry = policy.legal.ethics_approval.expires
    args["now"] = args["now"].replace(year=expiry.year, month=expiry.month, day=expiry.day) + timedelta(days=days_after)
    v = evaluate(job, SiteState(policy, **args))
    assert not v.allowed
    assert "ethics_approval" in blocking_rules(v)


@FAST
@given(site_policies(), job_manifests(), site_state_args())
def test_verdicts_are_deterministic_and_complete(policy: SitePolicy, job: JobManifest, args: dict[str, Any]) -> None:
    state = SiteState(policy, **args)
    first, second = evaluate(job, state), evaluate(dataclasses.replace(job), dataclasses.replace(state))
    assert first == second
    assert first.allowed == (not blocking_rules(first))
    assert len({r.rule for r in first.results}) == len(first.results)
