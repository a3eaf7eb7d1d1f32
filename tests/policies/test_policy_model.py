"""The site policy YAML: strict validation with key paths, the examples, the digest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fednode.errors import PolicyFileError
from policies.policy_model import SitePolicy, load_policy, parse_policy, policy_digest, split_identity

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


def _example() -> dict:
    return yaml.safe_load((EXAMPLES / "site-policy.yaml").read_text())


@pytest.mark.parametrize("name", ["site-policy.yaml", "site-policy-strict.yaml"])
def test_examples_load(name: str) -> None:
    policy = load_policy(EXAMPLES / name)
    assert policy.approval.required_approvals >= 2
    assert policy.privacy.dp.required
    assert len(policy_digest(policy)) == 64


def test_strict_example_is_stricter_than_the_default() -> None:
    default, strict = load_policy(EXAMPLES / "site-policy.yaml"), load_policy(EXAMPLES / "site-policy-strict.yaml")
    assert strict.privacy.dp.max_epsilon_per_job < default.privacy.dp.max_epsilon_per_job
    assert strict.schedule.windows and not default.schedule.windows


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda d: d["privacy"]["dp"].update(epsilon=1), "privacy.dp.epsilon", "unknown key"),
        (lambda d: d.pop("legal"), "legal", "required key is missing"),
        (lambda d: d["legal"].update(gdpr_art9_basis="because"), "legal.gdpr_art9_basis", "Input should be"),
        (lambda d: d["jobs"].update(kinds=["anything"]), "jobs.kinds.0", "Input should be"),
        (lambda d: d["approval"].update(required_approvals=9), "approval", "only 3 approvers"),
        (lambda d: d["approval"].update(approvers=["a", "A"]), "approval.approvers", "listed twice"),
        (lambda d: d["schedule"].update(timezone="Mars/Olympus"), "schedule.timezone", "unknown time zone"),
        (lambda d: d["site"].update(country="Norway"), "site.country", "should match pattern"),
        (lambda d: d["privacy"]["budgets"].update(omop=0.5), "privacy", "exceeds the whole budget"),
        (lambda d: d["privacy"]["result_filters"].append({"kind": "norm_clip"}), "privacy", "listed twice"),
    ],
)
def test_invalid_policy_names_the_key_path(mutate, field: str, message: str) -> None:
    data = _example()
    mutate(data)
    with pytest.raises(PolicyFileError) as err:
        parse_policy(data, source="policy.yaml")
    assert err.value.field == field
    assert message in err.value.message
    assert "policy.yaml" in err.value.message


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nsite:\n  name: [unclosed\n")
    with pytest.raises(PolicyFileError) as err:
        load_policy(path)
    assert err.value.line is not None and err.value.line >= 3
    assert err.value.exit_code == 4


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="not found"):
        load_policy(tmp_path / "none.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(PolicyFileError, match="mapping"):
        load_policy(tmp_path / "list.yaml")


def test_digest_is_canonical_and_sensitive() -> None:
    data = _example()
    a = parse_policy(data)
    b = SitePolicy.model_validate(dict(reversed(list(data.items()))))  # key order does not matter
    assert policy_digest(a) == policy_digest(b)
    data["jobs"]["max_rounds"] = 49
    assert policy_digest(parse_policy(data)) != policy_digest(a)


def test_identity_forms() -> None:
    assert split_identity("lead@x.example / Karolinska Institutet") == ("lead@x.example", "Karolinska Institutet")
    assert split_identity("bare") == ("bare", "")
    policy = parse_policy(_example())
    org_only = policy.participants.submitters[1]
    assert org_only.matches("anyone@ous.example", "oslo  university hospital")
    assert not org_only.matches("anyone", "Other")
