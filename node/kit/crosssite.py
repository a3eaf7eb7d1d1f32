"""Cross-site evaluation on the wire: the ``validate`` task and the names of the numbers a site returns for it.

After the last round the coordinator sends the final global model to every site in a ``validate`` task (NVFlare's
cross-site validation pattern). A site scores it on its own held-back, de-identified split with the built-in
evaluator and returns numbers only, one flat metric per name (a ``METRICS`` DXO the egress guard checks against its
allow-list): ``xsite_<scope>_<measure>``. A scope is ``all``, an entity type (``type_disease``) or a note language
(``lang_en``, ``lang_und`` for notes without one); every name is drawn from closed sets, so the allow-list
(:data:`CROSS_SITE_METRICS`) is finite and no name can carry text. A group below the site's minimum support sends
``xsite_<scope>_suppressed = 1`` and nothing else. Site facts for the model card travel the same way
(:data:`SITE_FACTS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

VALIDATE_TASK = "validate"
"""The task name of cross-site evaluation (shown to reviewers in the study's client config)."""

PREFIX = "xsite_"
MEASURES: tuple[str, ...] = ("precision", "recall", "f1", "support")
SUPPRESSED = "suppressed"
ALL_SCOPE = "all"
ENTITY_SCOPES: tuple[str, ...] = ("disease",)
"""``node.ml.ner.labels.ENTITY_TYPES`` in lower case (a test keeps them equal)."""
LANGUAGES: tuple[str, ...] = ("en", "sv", "no", "da", "fi", "et", "de", "fr", "nl", "es", "it", "und")
"""Note languages a group may be named by (``und``: not recorded or not known to the site's vocabulary)."""

SITE_FACTS: tuple[str, ...] = (
    "records",
    "heldout",
    "min_support",
    "epsilon",
    "dp_noise_multiplier",
    "dp_max_grad_norm",
    "dp_delta",
    "deid_version",
    "dq_passed",
    "dq_failed",
    "dq_accepted",
)
"""Per-site numbers for the card: annotated notes (rounded), held-back notes (rounded), the policy's minimum
support, epsilon charged for this job, the DP parameters the site imposed (absent without DP) and the appliance's
de-identification version (``major * 10000 + minor * 100 + patch``); from the site's last ``fednode dq`` report,
whether the gate passed (1/0), the checks that failed and the failures accepted with an explanation."""


def scopes() -> tuple[str, ...]:
    """Every scope a cross-site metric may name."""
    return (ALL_SCOPE, *(f"type_{t}" for t in ENTITY_SCOPES), *(f"lang_{code}" for code in LANGUAGES))


def metric_name(scope: str, measure: str) -> str:
    return f"{PREFIX}{scope}_{measure}"


def fact_name(fact: str) -> str:
    return f"{PREFIX}{fact}"


CROSS_SITE_METRICS = frozenset(
    {metric_name(s, m) for s in scopes() for m in (*MEASURES, SUPPRESSED)} | {fact_name(f) for f in SITE_FACTS}
)
"""Every name a validation result may carry (added to the egress guard's default allow-list)."""


def version_number(version: str) -> int:
    """``"1.2.3"`` -> 10203 (a release's parts as one whole number; non-numeric parts count as 0)."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 10_000 + parts[1] * 100 + parts[2]


def version_text(number: float) -> str:
    n = int(number)
    return f"{n // 10_000}.{n // 100 % 100}.{n % 100}"


@dataclass(frozen=True)
class GroupFigures:
    """One group's released figures; ``suppressed`` when its support was below the site's minimum."""

    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class SiteEvaluation:
    """What one site returned for the ``validate`` task, read back from its flat metrics."""

    groups: Mapping[str, GroupFigures] = field(default_factory=dict)
    facts: Mapping[str, float] = field(default_factory=dict)


def flatten(groups: Mapping[str, GroupFigures], facts: Mapping[str, float]) -> dict[str, float]:
    """The flat metrics a site sends (suppressed groups carry only their flag)."""
    out: dict[str, float] = {}
    for scope, g in groups.items():
        if scope not in scopes():
            raise ValueError(f"unknown cross-site scope {scope!r}")
        if g.suppressed:
            out[metric_name(scope, SUPPRESSED)] = 1.0
            continue
        for measure in MEASURES:
            value = getattr(g, measure)
            if value is not None:
                out[metric_name(scope, measure)] = float(value)
    for fact, value in facts.items():
        if fact not in SITE_FACTS:
            raise ValueError(f"unknown cross-site fact {fact!r}")
        out[fact_name(fact)] = float(value)
    return out


def unflatten(metrics: Mapping[str, object]) -> SiteEvaluation:
    """Read a site's flat metrics back (unknown names and non-numbers are ignored)."""
    groups: dict[str, dict[str, float]] = {}
    facts: dict[str, float] = {}
    for name, value in metrics.items():
        if name not in CROSS_SITE_METRICS or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        rest = name.removeprefix(PREFIX)
        if rest in SITE_FACTS:
            facts[rest] = float(value)
            continue
        scope, _, measure = rest.rpartition("_")
        groups.setdefault(scope, {})[measure] = float(value)
    out: dict[str, GroupFigures] = {}
    for scope, values in groups.items():
        if values.get(SUPPRESSED):
            out[scope] = GroupFigures(suppressed=True)
            continue
        support = values.get("support")
        out[scope] = GroupFigures(
            precision=values.get("precision"),
            recall=values.get("recall"),
            f1=values.get("f1"),
            support=int(support) if support is not None else None,
        )
    return SiteEvaluation(groups=out, facts=facts)
