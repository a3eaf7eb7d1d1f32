"""The ``site_dp`` verdict rule: the reviewer sees the epsilon the site itself will charge a BYOC job."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from node.site.release_rule import site_dp_rule
from policies.contracts import JobKind, RuleOutcome
from policies.ledger import epsilon_of
from policies.policy_model import SitePolicy, parse_policy
from policies.verdicts import SiteState
from tests.policies.statekit import dp, manifest

EXAMPLE = Path(__file__).resolve().parents[3] / "policies" / "examples" / "site-policy.yaml"


def _policy(**dp_changes: Any) -> SitePolicy:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["privacy"]["dp"].update(dp_changes)
    return parse_policy(data)


def _state(policy: SitePolicy, remaining: float = 8.0) -> SiteState:
    return SiteState(policy=policy, now=datetime(2026, 12, 5, tzinfo=UTC), budget_remaining={"omop_notes": remaining})


BYOC = replace(manifest(dp=dp(target=0.1)), kind=JobKind.BYOC, rounds=4)


def test_config_only_jobs_pass() -> None:
    result = site_dp_rule(manifest(), _state(_policy()), ())
    assert result.outcome is RuleOutcome.ALLOW and "config-only" in result.reason


def test_without_required_dp_byoc_results_are_only_rounded() -> None:
    result = site_dp_rule(BYOC, _state(_policy(required=False)), ())
    assert result.outcome is RuleOutcome.ALLOW and "rounded" in result.reason


def test_required_dp_without_site_noise_denies_byoc() -> None:
    result = site_dp_rule(BYOC, _state(_policy()), ())
    assert result.outcome is RuleOutcome.DENY and "site_noise_multiplier" in result.reason


def test_the_reviewer_sees_the_site_epsilon_beside_the_declared_one() -> None:
    policy = _policy(site_noise_multiplier=20.0, site_clip_norm=0.5, max_epsilon_per_job=2.0, accountant="rdp")
    result = site_dp_rule(BYOC, _state(policy), ())
    expected = epsilon_of([(10.0, 1.0, 4)], 1e-5, "rdp")
    assert result.outcome is RuleOutcome.ALLOW
    assert f"epsilon {expected:.3g} over 4 rounds" in result.reason
    assert "declares epsilon 0.1 (not trusted)" in result.reason


@pytest.mark.parametrize(("noise", "remaining", "why"), [(2.0, 8.0, "per job"), (20.0, 0.05, "left for omop_notes")])
def test_a_site_epsilon_over_the_limits_denies(noise: float, remaining: float, why: str) -> None:
    policy = _policy(site_noise_multiplier=noise, max_epsilon_per_job=2.0, accountant="rdp")
    result = site_dp_rule(BYOC, _state(policy, remaining), ())
    assert result.outcome is RuleOutcome.DENY and why in result.reason
