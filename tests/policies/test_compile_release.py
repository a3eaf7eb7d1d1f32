"""privacy.json carries what the egress guard releases for BYOC jobs (rounding, the site's DP), checked at boot."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from fednode.errors import PolicyFileError
from policies.compile import compile_site, validate_site_files
from policies.policy_model import SitePolicy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "examples" / "site-policy.yaml"


def _policy(**dp: Any) -> SitePolicy:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["jobs"]["kinds"] = ["config_only", "byoc"]
    data["privacy"]["dp"].update(dp)
    return parse_policy(data)


def _guard(privacy: dict[str, Any]) -> dict[str, Any]:
    (guard,) = [c for c in privacy["components"] if c["id"] == "fednode_egress_guard"]
    assert isinstance(guard, dict)
    return guard


def test_required_dp_with_site_noise_compiles_the_sites_dp_into_the_guard() -> None:
    files = compile_site(_policy(site_noise_multiplier=12.0, site_clip_norm=0.5, max_epsilon_per_job=2.0))
    assert _guard(files.privacy)["args"] == {
        "release": {
            "dp_required": True,
            "site_dp": {"clip_norm": 0.5, "noise_multiplier": 12.0, "max_epsilon_per_job": 2.0},
        }
    }
    pytest.importorskip("node.site.egress.guard")
    validate_site_files(files)  # the boot check builds the guard with these arguments


def test_without_required_dp_the_guard_only_rounds() -> None:
    files = compile_site(_policy(required=False, site_noise_multiplier=12.0))
    assert _guard(files.privacy)["args"] == {"release": {"dp_required": False}}


def test_required_dp_without_site_noise_is_compiled_as_such() -> None:
    files = compile_site(_policy())
    assert _guard(files.privacy)["args"] == {"release": {"dp_required": True}}


def test_a_broken_release_argument_fails_the_boot_check() -> None:
    pytest.importorskip("node.site.egress.guard")
    files = compile_site(_policy(site_noise_multiplier=12.0))
    broken = copy.deepcopy(files.privacy)
    _guard(broken)["args"]["release"]["site_dp"]["noise_multiplier"] = 0.0
    with pytest.raises(PolicyFileError, match="fednode_egress_guard"):
        validate_site_files(type(files)(broken, files.authorization, files.resources))


def test_the_policy_refuses_a_non_positive_site_noise() -> None:
    with pytest.raises(PolicyFileError, match="site_noise_multiplier"):
        _policy(site_noise_multiplier=0.0)
