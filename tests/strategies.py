"""Hypothesis strategies shared by the test suite (attrs keeps its strategies in one module too).

Policy engine: ``site_policies()`` draws valid site policies, ``job_manifests()`` jobs that such a policy may or
may not allow, ``site_states()`` the site's state, and ``tightenings()`` a function that makes a policy stricter
in one respect (what "adding a deny rule" means for a policy file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from policies.contracts import DpParams, JobKind, JobManifest, ManifestFile
from policies.manifest import files_digest
from policies.policy_model import Algorithm, Capability, SitePolicy, Weekday

ORGS = ("Karolinska Institutet", "Oslo University Hospital", "Tartu University Hospital")
NAMES = ("lead@karolinska.example", "ana@ous.example", "mart@kliinikum.example")
TABLES = {"note": ("note_id", "note_text", "person_id"), "note_nlp": ("note_id", "offset", "lexical_variant")}
BASE_DAY = datetime(2026, 6, 1, tzinfo=UTC)

CLEAN_CODE = "import torch\n\n\ndef train(model: torch.nn.Module) -> None:\n    model.train()\n"
RISKY_CODE = (
    "import os\nimport subprocess\n\n\ndef run() -> None:\n    subprocess.run(['ls'])\n    os.environ.get('X')\n"
)


def _policy_dict(draw: st.DrawFn) -> dict[str, Any]:
    submitters = draw(st.lists(st.sampled_from(range(len(ORGS))), min_size=1, max_size=3, unique=True))
    approvers = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.sampled_from([k.value for k in JobKind]), min_size=1, unique=True))
    windows = draw(
        st.lists(
            st.builds(
                lambda days, s, e: {"days": days, "start": s, "end": e},
                st.lists(st.sampled_from([d.value for d in Weekday]), min_size=1, max_size=7, unique=True),
                st.sampled_from(["00:00", "06:00", "18:00", "22:00"]),
                st.sampled_from(["05:00", "08:00", "20:00", "23:59"]),
            ).filter(lambda w: w["start"] != w["end"]),
            max_size=2,
        )
    )
    budget = draw(st.floats(1.0, 20.0))
    return {
        "site": {"name": "site-a", "organisation": ORGS[1], "country": "NO", "signing_key": "keys/site.pem"},
        "legal": {
            "gdpr_art6_basis": "public_task",
            "gdpr_art9_basis": "scientific_research",
            "ethics_approval": {"id": "REK-1", "expires": date(2027, 1, 1) + timedelta(days=draw(st.integers(0, 400)))},
            "data_use_agreement": {"id": "DUA-1", "expires": date(2027, 6, 1)},
        },
        "participants": {
            "coordinators": [{"name": "coord.example", "org": "Consortium"}],
            "submitters": [
                {"name": NAMES[i], "org": ORGS[i]} if draw(st.booleans()) else {"org": ORGS[i]} for i in submitters
            ],
        },
        "jobs": {
            "kinds": kinds,
            "algorithms": draw(st.lists(st.sampled_from([a.value for a in Algorithm]), min_size=1, unique=True)),
            "max_rounds": draw(st.integers(1, 100)),
            "min_sites": draw(st.integers(1, 6)),
            "min_local_records": draw(st.integers(0, 1000)),
            "max_app_bytes": draw(st.integers(100, 10_000)),
            "forbidden_capabilities": draw(st.lists(st.sampled_from([c.value for c in Capability]), unique=True)),
        },
        "privacy": {
            "dp": {
                "required": draw(st.booleans()),
                "max_epsilon_per_job": min(budget, draw(st.floats(0.1, 10.0))),
                "delta": draw(st.sampled_from([1e-6, 1e-5, 1e-4])),
                "min_noise_multiplier": draw(st.floats(0.0, 2.0)),
                "max_grad_norm": draw(st.floats(0.1, 5.0)),
            },
            "budgets": {"omop": budget},
        },
        "data_access": {t: list(draw(st.lists(st.sampled_from(c), unique=True))) for t, c in TABLES.items()},
        "approval": {"approvers": [f"approver{i}" for i in range(approvers)], "required_approvals": 1},
        "schedule": {"timezone": draw(st.sampled_from(["UTC", "Europe/Oslo"])), "windows": windows},
    }


@st.composite
def site_policies(draw: st.DrawFn) -> SitePolicy:
    return SitePolicy.model_validate(_policy_dict(draw))


def _file(path: str, text: str) -> ManifestFile:
    data = text.encode()
    return ManifestFile(path, hashlib.sha256(data).hexdigest(), len(data), text)


@st.composite
def job_manifests(draw: st.DrawFn) -> JobManifest:
    files = [_file("config/config_fed_client.json", "{}"), _file("config/config_fed_server.json", "{}")]
    kind = JobKind.CONFIG_ONLY
    if draw(st.booleans()):
        kind = JobKind.BYOC
        files.append(_file("custom/train.py", draw(st.sampled_from([CLEAN_CODE, RISKY_CODE]))))
    dp = None
    if draw(st.booleans()):
        dp = DpParams(
            noise_multiplier=draw(st.floats(0.0, 3.0)),
            max_grad_norm=draw(st.floats(0.1, 5.0)),
            target_epsilon=draw(st.floats(0.1, 10.0)),
            delta=draw(st.sampled_from([1e-6, 1e-5, 1e-4])),
        )
    idx = draw(st.integers(0, len(ORGS) - 1))
    return JobManifest(
        job_id="job-1",
        study="study",
        app_name="app",
        digest=files_digest(files),
        files=tuple(files),
        kind=kind,
        submitter=f"{NAMES[idx]} / {ORGS[idx]}",
        submitted_at=BASE_DAY,
        algorithm=draw(st.sampled_from([a.value for a in Algorithm])),
        rounds=draw(st.integers(1, 120)),
        min_clients=draw(st.integers(1, 6)),
        sites=(),
        data_access={t: tuple(draw(st.lists(st.sampled_from(c), unique=True))) for t, c in TABLES.items()},
        dp=dp,
        dataset="omop",
    )


@st.composite
def site_state_args(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of ``SiteState`` other than the policy."""
    return {
        "now": BASE_DAY + timedelta(days=draw(st.integers(0, 500)), minutes=draw(st.integers(0, 24 * 60))),
        "budget_remaining": {"omop": draw(st.floats(0.0, 20.0))},
        "local_records": draw(st.integers(0, 2000)),
        "coordinator": draw(st.sampled_from([None, "coord.example / Consortium", "rogue / Elsewhere"])),
    }


Tightening = Callable[[dict[str, Any]], dict[str, Any]]


def _set(path: tuple[str, ...], fn: Callable[[Any], Any]) -> Tightening:
    def apply(d: dict[str, Any]) -> dict[str, Any]:
        import copy

        out = copy.deepcopy(d)
        node = out
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = fn(node[path[-1]])
        return out

    apply.__name__ = "tighten_" + ".".join(path)
    return apply


def _drop_one(items: list[Any]) -> list[Any]:
    return items[1:] if len(items) > 1 else items


TIGHTENINGS: tuple[Tightening, ...] = (
    _set(("jobs", "kinds"), _drop_one),
    _set(("jobs", "algorithms"), _drop_one),
    _set(("jobs", "max_rounds"), lambda v: max(1, v // 2)),
    _set(("jobs", "min_sites"), lambda v: v + 1),
    _set(("jobs", "min_local_records"), lambda v: v + 100),
    _set(("jobs", "max_app_bytes"), lambda v: max(1, v // 2)),
    _set(("jobs", "forbidden_capabilities"), lambda v: [c.value for c in Capability]),
    _set(("privacy", "dp", "required"), lambda v: True),
    _set(("privacy", "dp", "max_epsilon_per_job"), lambda v: v / 2),
    _set(("privacy", "dp", "delta"), lambda v: v / 10),
    _set(("privacy", "dp", "min_noise_multiplier"), lambda v: v + 0.5),
    _set(("privacy", "dp", "max_grad_norm"), lambda v: v / 2),
    _set(("participants", "submitters"), _drop_one),
    _set(("data_access",), lambda v: {t: cols[1:] for t, cols in v.items()}),
    _set(("legal", "ethics_approval", "expires"), lambda v: v - timedelta(days=200)),
    _set(("schedule", "windows"), lambda v: [*v[:1]] or [{"days": ["mon"], "start": "01:00", "end": "02:00"}]),
)
"""Each makes a policy stricter in one respect and never looser."""


@st.composite
def tightened_policy_pairs(draw: st.DrawFn) -> tuple[SitePolicy, SitePolicy, str]:
    """(policy, a stricter policy, the name of the tightening)."""
    base = _policy_dict(draw)
    tighten = draw(st.sampled_from(TIGHTENINGS))
    return SitePolicy.model_validate(base), SitePolicy.model_validate(tighten(base)), tighten.__name__
