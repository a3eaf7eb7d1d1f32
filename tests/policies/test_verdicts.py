"""Verdicts rule by rule: each rule denies what it should, with a readable reason, deterministically."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.contracts import DpParams, JobKind, JobManifest, ManifestFile, RuleOutcome
from policies.manifest import files_digest
from policies.policy_model import SitePolicy, parse_policy
from policies.verdicts import RULES, SiteState, blocking_rules, evaluate

EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "examples" / "site-policy.yaml"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def policy(**changes: Any) -> SitePolicy:
    data = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in changes.items():
        node = data
        keys = dotted.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return parse_policy(data)


def mf(path: str, text: str) -> ManifestFile:
    return ManifestFile(path, hashlib.sha256(text.encode()).hexdigest(), len(text.encode()), text)


def job(**changes: Any) -> JobManifest:
    files = (mf("config/config_fed_client.json", "{}"), mf("config/config_fed_server.json", "{}"))
    base = JobManifest(
        job_id="j1",
        study="ner",
        app_name="app",
        digest=files_digest(files),
        files=files,
        kind=JobKind.CONFIG_ONLY,
        submitter="lead@karolinska.example / Karolinska Institutet",
        submitted_at=NOW,
        algorithm="fedavg",
        rounds=10,
        min_clients=3,
        sites=("site-oslo", "site-tartu", "site-lund"),
        data_access={"note": ("note_id", "note_text")},
        dp=DpParams(noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=1.5, delta=1e-5),
        dataset="omop",
    )
    return dataclasses.replace(base, **changes)


def state(p: SitePolicy | None = None, **changes: Any) -> SiteState:
    base = SiteState(p or policy(), NOW, {"omop": 8.0}, 500, "coordinator.nbfl.example / Nordic-Baltic FL Consortium")
    return dataclasses.replace(base, **changes)


def result(verdict, rule: str):
    return next(r for r in verdict.results if r.rule == rule)


def test_clean_job_is_allowed_with_one_result_per_rule() -> None:
    v = evaluate(job(), state())
    assert v.allowed, v.reasons
    assert [r.rule for r in v.results] == [rule.__name__ for rule in RULES]
    assert all(r.reason for r in v.results)
    assert v.policy_digest and v.findings == ()


def test_evaluation_is_deterministic() -> None:
    assert evaluate(job(), state()) == evaluate(job(), state())


BYOC_RISKY = mf("custom/train.py", "import socket\nsocket.create_connection(('x', 1))\n")


@pytest.mark.parametrize(
    ("rule", "make_job", "make_state", "needle"),
    [
        ("ethics_approval", job, lambda: state(now=datetime(2027, 7, 1, tzinfo=UTC)), "expired on 2027-06-30"),
        ("data_use_agreement", job, lambda: state(now=datetime(2028, 1, 1, tzinfo=UTC)), "expired"),
        ("coordinator", job, lambda: state(coordinator="evil / Elsewhere"), "not among"),
        ("submitter", lambda: job(submitter="mallory / Nowhere"), state, "not allowed to submit"),
        ("submitter", lambda: job(submitter=""), state, "no submitter"),
        ("job_kind", lambda: job(kind=JobKind.BYOC), state, "bring-your-own-code"),
        ("algorithm", lambda: job(algorithm="fltrust"), state, "not allowed"),
        ("algorithm", lambda: job(algorithm="magic"), state, "unknown algorithm"),
        ("rounds", lambda: job(rounds=51), state, "exceed the limit of 50"),
        ("min_sites", lambda: job(min_clients=2), state, "requires 3"),
        ("min_sites", lambda: job(sites=("a", "b")), state, "names 2 sites"),
        ("local_records", job, lambda: state(local_records=10), "10 records"),
        ("data_access", lambda: job(data_access={"person": ("year_of_birth",)}), state, "table person"),
        ("data_access", lambda: job(data_access={"note": ("note_id", "provider_id")}), state, "note.provider_id"),
        ("differential_privacy", lambda: job(dp=None), state, "requires differential privacy"),
        (
            "differential_privacy",
            lambda: job(dp=DpParams(noise_multiplier=0.5, max_grad_norm=2, target_epsilon=3, delta=1e-3)),
            state,
            "noise multiplier 0.5 < 0.8; clipping norm 2",
        ),
        ("privacy_budget", job, lambda: state(budget_remaining={"omop": 1.0}), "has 1 left"),
        ("privacy_budget", job, lambda: state(budget_remaining={}), "not known"),
        ("privacy_budget", lambda: job(dataset="claims"), state, "no privacy budget"),
        ("privacy_scope", lambda: job(pinned_meta={"scope": "public"}), state, "'public'"),
        ("app_digest", lambda: job(digest="0" * 64), state, "does not match"),
        (
            "app_digest",
            lambda: job(files=(dataclasses.replace(mf("config/a.json", "{}"), content='{"x": 1}'),)),
            state,
            "differs from its stated hash",
        ),
        (
            "app_size",
            lambda: job(
                files=(mf("config/big.json", "x" * 3_000_000),),
                digest=files_digest((mf("config/big.json", "x" * 3_000_000),)),
            ),
            state,
            "limit is 2097152",
        ),
        ("code_scan", lambda: job(files=(BYOC_RISKY,), digest=files_digest((BYOC_RISKY,))), state, "network at"),
    ],
)
def test_each_rule_denies_with_a_reason(
    rule: str, make_job: Callable[[], JobManifest], make_state: Callable[[], SiteState], needle: str
) -> None:
    v = evaluate(make_job(), make_state())
    assert not v.allowed
    r = result(v, rule)
    assert r.outcome is RuleOutcome.DENY
    assert needle in r.reason
    assert rule in blocking_rules(v)


def test_unknown_coordinator_only_warns_offline() -> None:
    v = evaluate(job(), state(coordinator=None))
    assert v.allowed and result(v, "coordinator").outcome is RuleOutcome.WARN


def test_dp_optional_site_warns_instead_of_denying() -> None:
    p = policy(privacy__dp__required=False)
    v = evaluate(job(dp=None), state(p))
    assert v.allowed
    assert result(v, "differential_privacy").outcome is RuleOutcome.WARN
    assert result(v, "privacy_budget").outcome is RuleOutcome.WARN


def test_findings_of_allowed_capabilities_warn() -> None:
    p = policy(jobs__kinds=["config_only", "byoc"], jobs__forbidden_capabilities=["subprocess"])
    config = (
        '{"format_version": 2, "executors": [{"tasks": ["*"], "executor": {"path": '
        '"nvflare.app_common.executors.client_api_executor.ClientAPIExecutor", "args": '
        '{"execution_mode": "in_process", "task_script_path": "t.py"}}}]}'
    )
    files = (mf("config/config_fed_client.json", config), mf("custom/t.py", "import os\nx = os.environ['A']\n"))
    v = evaluate(job(kind=JobKind.BYOC, files=files, digest=files_digest(files)), state(p))
    assert v.allowed
    assert result(v, "code_scan").outcome is RuleOutcome.WARN
    assert [f.capability for f in v.findings] == ["environment"]


def test_compiled_files_are_refused_even_when_no_capability_is_forbidden() -> None:
    p = policy(jobs__kinds=["byoc"], jobs__forbidden_capabilities=[])
    f = ManifestFile("custom/__pycache__/m.cpython-311.pyc", "a" * 64, 10, None)
    v = evaluate(job(kind=JobKind.BYOC, files=(f,), digest=files_digest((f,))), state(p))
    assert not v.allowed and "compiled_code" in result(v, "code_scan").reason


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        ("2026-11-23T21:00", True),  # Monday evening, in the Mon-Fri 20:00-06:00 window
        ("2026-11-24T05:30", True),  # Tuesday early morning: the Monday window wraps past midnight
        ("2026-11-23T12:00", False),  # Monday noon
        ("2026-11-23T05:30", False),  # Monday 05:30: Sunday is not in the weekday window ...
        ("2026-11-29T12:00", True),  # ... but Sunday has its own all-day window
        ("2026-11-28T23:59", False),  # Saturday 23:59: the weekend window ends at 23:59 (exclusive)
    ],
)
def test_time_windows_in_the_site_zone(local: str, allowed: bool) -> None:
    from zoneinfo import ZoneInfo

    p = policy(
        schedule={
            "timezone": "Europe/Tallinn",
            "windows": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "20:00", "end": "06:00"},
                {"days": ["sat", "sun"], "start": "00:00", "end": "23:59"},
            ],
        }
    )
    now = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Europe/Tallinn")).astimezone(UTC)
    r = result(evaluate(job(), state(p, now=now)), "time_window")
    assert (r.outcome is RuleOutcome.ALLOW) is allowed, r.reason


def test_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SiteState(policy(), datetime(2026, 1, 1), {}, 0)  # the point of the test
