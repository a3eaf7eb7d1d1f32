"""The verdict rule: a BYOC job is denied where the kernel cannot confine or its config cannot run confined."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from node.site.byoc_config import CLIENT_API_EXECUTOR
from node.site.byoc_rule import RULE, check_manifest, sandbox_rule
from policies.contracts import JobKind, JobManifest, ManifestFile, RuleOutcome
from policies.policy_model import load_policy
from policies.verdicts import SiteState, evaluate

REPO = Path(__file__).resolve().parents[3]
POLICY = load_policy(REPO / "policies" / "examples" / "site-policy.yaml")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Support:
    available: bool
    reason: str = ""


def _file(path: str, content: str) -> ManifestFile:
    return ManifestFile(path, "0" * 64, len(content), content)


def _config(args: dict[str, object]) -> str:
    return json.dumps({"executors": [{"tasks": ["*"], "executor": {"path": CLIENT_API_EXECUTOR, "args": args}}]})


GOOD = _config({"execution_mode": "in_process", "task_script_path": "train.py", "task_script_args": "--data_dir data"})


def _job(config: str = GOOD, kind: JobKind = JobKind.BYOC, script: str = "custom/train.py") -> JobManifest:
    return JobManifest(
        job_id="job-1",
        study="ner",
        app_name="app",
        digest="a" * 64,
        files=(_file("config/config_fed_client.json", config), _file(script, "import nvflare.client\n")),
        kind=kind,
        submitter="lead / KI",
        submitted_at=T0,
    )


STATE = SiteState(policy=POLICY, now=T0)


def test_a_byoc_job_the_site_can_confine_is_allowed_and_told_the_limits() -> None:
    result = sandbox_rule(lambda: Support(True))(_job(), STATE, ())
    assert result.outcome is RuleOutcome.ALLOW
    assert "no network" in result.reason and f"{POLICY.sandbox.wall_minutes} min" in result.reason


def test_where_the_kernel_cannot_confine_byoc_is_denied_and_config_only_still_allowed() -> None:
    rule = sandbox_rule(lambda: Support(False, "the kernel has no Landlock"))
    denied = rule(_job(), STATE, ())
    assert denied.outcome is RuleOutcome.DENY
    assert "no Landlock" in denied.reason and "config-only jobs still run" in denied.reason
    assert rule(_job(kind=JobKind.CONFIG_ONLY), STATE, ()).outcome is RuleOutcome.ALLOW


def test_the_kernel_is_probed_once() -> None:
    calls: list[int] = []

    def probe() -> Support:
        calls.append(1)
        return Support(True)

    rule = sandbox_rule(probe)
    for _ in range(3):
        rule(_job(), STATE, ())
    assert calls == [1]


@pytest.mark.parametrize(
    ("config", "script", "says"),
    [
        (_config({"execution_mode": "external_process", "command": "sh run.sh"}), "custom/train.py", "launcher"),
        (GOOD, "custom/other.py", "not in the app"),
        ("{", "custom/train.py", "not JSON"),
    ],
)
def test_a_config_the_site_cannot_run_confined_is_denied_with_what_to_change(
    config: str, script: str, says: str
) -> None:
    result = sandbox_rule(lambda: Support(True))(_job(config, script=script), STATE, ())
    assert result.outcome is RuleOutcome.DENY
    assert says in result.reason
    assert result.rule == RULE


def test_an_app_without_a_readable_client_config_is_denied() -> None:
    job = replace(_job(), files=(_file("custom/train.py", "x = 1\n"),))
    assert "config_fed_client.json" in (check_manifest(job) or "")


def test_as_an_extra_rule_it_can_deny_a_job_the_policy_would_allow() -> None:
    verdict = evaluate(_job(), STATE, extra_rules=(sandbox_rule(lambda: Support(False, "no Landlock")),))
    assert not verdict.allowed
    assert any(r.rule == RULE and r.outcome is RuleOutcome.DENY for r in verdict.results)


def test_a_script_in_a_subfolder_is_found_as_nvflare_finds_it() -> None:
    assert check_manifest(_job(script="custom/src/train.py")) is None
