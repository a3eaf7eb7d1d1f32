"""The result filters a policy can require, and the class each one compiles to.

NVFlare classes are the ones that exist in nvflare 2.9.0 (verified by ``tests/policies/test_compile.py``, which
imports and builds each); ``node.site.filters.*`` are fednode's own, implemented in ``node`` (docs/policy.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.policy_model import ResultFilter


@dataclass(frozen=True)
class FilterClass:
    """A filter's class path, the arguments it accepts, and the ones the compiler fills in."""

    path: str
    allowed_args: frozenset[str]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    required_args: frozenset[str] = frozenset()


FILTERS: dict[ResultFilter, FilterClass] = {
    ResultFilter.EXCLUDE_VARS: FilterClass(
        "nvflare.app_common.filters.exclude_vars.ExcludeVars",
        frozenset({"exclude_vars", "data_kinds"}),
        required_args=frozenset({"exclude_vars"}),
    ),
    ResultFilter.PERCENTILE_PRIVACY: FilterClass(
        "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy",
        frozenset({"percentile", "gamma", "data_kinds"}),
        {"percentile": 10, "gamma": 0.01},
    ),
    ResultFilter.SVT_PRIVACY: FilterClass(
        "nvflare.app_common.filters.svt_privacy.SVTPrivacy",
        frozenset({"fraction", "epsilon", "noise_var", "gamma", "tau", "data_kinds", "replace"}),
        {"fraction": 0.1, "epsilon": 0.1},
    ),
    ResultFilter.WEIGHTS_ONLY: FilterClass(
        "nvflare.app_common.filters.dxo_blocker.DXOBlocker",
        frozenset(),
        {"data_kinds": ["WEIGHTS", "WEIGHT_DIFF", "METRICS"], "allow_data_kinds": True},
    ),
    ResultFilter.NORM_CLIP: FilterClass(
        "node.site.filters.UpdateNormClip",
        frozenset({"max_norm"}),
        required_args=frozenset({"max_norm"}),
    ),
    ResultFilter.DP_BUDGET: FilterClass("node.site.filters.DpBudgetFilter", frozenset()),
    ResultFilter.EGRESS_SCHEMA: FilterClass("node.site.filters.EgressSchemaFilter", frozenset()),
}
