"""The ``secure_aggregation`` rule: a site may require, allow or turn off secure aggregation, and a study that asks
for it with an aggregator needing individual updates is denied with the reason; the declaration survives the
manifest's round trip through the registry."""

from __future__ import annotations

import pytest

from policies.contracts import RuleOutcome
from policies.jobcodec import manifest_from_json, manifest_to_json, meta_digest
from policies.policy_model import SecureAggregation
from policies.verdicts import evaluate
from tests.policies.test_verdicts import job, policy, result, state


def _rule(mode: str, **changes: object):  # type: ignore[no-untyped-def]
    return result(evaluate(job(**changes), state(policy(privacy__secure_aggregation=mode))), "secure_aggregation")


def test_default_policy_allows_either() -> None:
    assert policy().privacy.secure_aggregation is SecureAggregation.ALLOWED
    assert evaluate(job(), state()).allowed
    assert evaluate(job(secure_aggregation=True), state()).allowed


@pytest.mark.parametrize(
    ("mode", "asks", "outcome", "needle"),
    [
        ("required", False, RuleOutcome.DENY, "requires secure aggregation and the study does not ask for it"),
        ("required", True, RuleOutcome.ALLOW, "learns only the sum"),
        ("allowed", False, RuleOutcome.ALLOW, "sees this site's update"),
        ("off", True, RuleOutcome.DENY, "turns off"),
        ("off", False, RuleOutcome.ALLOW, "no secure aggregation"),
    ],
)
def test_site_mode(mode: str, asks: bool, outcome: RuleOutcome, needle: str) -> None:
    r = _rule(mode, secure_aggregation=asks)
    assert r.outcome is outcome and needle in r.reason


@pytest.mark.parametrize(
    "algorithm", ["median", "trimmed_mean", "geometric_median", "fltrust", "norm_clip", "scaffold"]
)
def test_aggregators_needing_individual_updates_cannot_be_combined(algorithm: str) -> None:
    r = _rule("allowed", secure_aggregation=True, algorithm=algorithm)
    assert r.outcome is RuleOutcome.DENY
    assert (
        f"{algorithm} needs each site's update in the clear and cannot be combined with secure aggregation" in r.reason
    )


def test_declaration_round_trips_and_leaves_old_digests_alone() -> None:
    plain, secure = job(), job(secure_aggregation=True)
    assert manifest_from_json(manifest_to_json(secure)).secure_aggregation is True
    assert manifest_from_json(manifest_to_json(plain)).secure_aggregation is False
    assert "secure_aggregation" not in manifest_to_json(plain)
    assert meta_digest(plain) != meta_digest(secure)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(Exception, match="secure_aggregation"):
        policy(privacy__secure_aggregation="sometimes")
