"""The BYOC app rules: how the task script is started, which classes a client config may name, which files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.codescan import CLIENT_COMPONENTS, JOB_CONFIG, JOB_LAYOUT, scan_files, scan_source
from policies.codescan._byoc import CLIENT_API_EXECUTOR, check_client_config, check_layout

TRAIN = "import nvflare.client as flare\nflare.init()\n"


def app(args: dict[str, Any], *, components: list[dict[str, Any]] | None = None, **files: str) -> dict[str, str]:
    config = {
        "format_version": 2,
        "executors": [{"tasks": ["*"], "executor": {"path": CLIENT_API_EXECUTOR, "args": args}}],
        "components": components or [],
    }
    return {"config/config_fed_client.json": json.dumps(config), "custom/train.py": TRAIN, **files}


def config_findings(files: dict[str, str], allowed: frozenset[str] = CLIENT_COMPONENTS) -> list[tuple[str, str]]:
    return [(f.severity, f.message) for f in check_client_config(files, allowed)]


@pytest.mark.parametrize(
    "args",
    [
        {"execution_mode": "in_process", "task_script_path": "train.py", "task_script_args": "--data_dir data"},
        {"execution_mode": "in_process", "task_script_path": "custom/train.py"},
        {"execution_mode": "external_process", "command": ["python3", "-u", "custom/train.py", "--model_dir", "model"]},
        {"execution_mode": "external_process", "command": "python3 -u custom/train.py --data_dir data"},
        {"execution_mode": "external_process", "command": ["python", "custom/train.py"]},
    ],
)
def test_what_scriptrunner_writes_is_accepted(args: dict[str, Any]) -> None:
    assert config_findings(app(args)) == []


def test_an_argument_naming_a_path_outside_is_a_warning_only() -> None:
    args = {"execution_mode": "in_process", "task_script_path": "train.py", "task_script_args": "--data_dir /srv/x"}
    [(severity, message)] = config_findings(app(args))
    assert severity == "warn" and "/srv/x" in message


def test_a_script_name_matching_two_files_is_ambiguous() -> None:
    files = app({"execution_mode": "in_process", "task_script_path": "train.py"}, **{"custom/sub/train.py": TRAIN})
    [(_, message)] = config_findings(files)
    assert "several files" in message


def test_the_policy_can_extend_the_component_table() -> None:
    extra = "hospital.widgets.Relay"
    comps = [{"id": "relay", "path": extra, "args": {}}]
    files = app({"execution_mode": "in_process", "task_script_path": "train.py"}, components=comps)
    assert config_findings(files) != []
    assert config_findings(files, CLIENT_COMPONENTS | {extra}) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (None, "missing"),
        ("{not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        (json.dumps({"format_version": 2, "executors": []}), "ClientAPIExecutor"),
    ],
)
def test_a_broken_or_empty_client_config_is_refused(text: str | None, why: str) -> None:
    files = {"custom/train.py": TRAIN}
    if text is not None:
        files["config/config_fed_client.json"] = text
    findings = check_client_config(files)
    assert findings and all(f.capability == JOB_CONFIG for f in findings)
    assert why in findings[0].message


def test_layout_accepts_code_data_and_docs_and_refuses_the_rest() -> None:
    ok = ["config/config_fed_client.json", "config/config_fed_server.json", "custom/a.py", "custom/p/b.py"]
    ok += ["custom/labels.txt", "custom/settings.json", "custom/vocab.tsv", "README.md"]
    assert check_layout(ok) == []
    bad = ["config/log_config.json", "custom/x.pth", "custom/run", "resources/x.py", "custom/.__nvfl_sig.json"]
    assert sorted(f.file for f in check_layout(bad)) == sorted(bad)
    assert all(f.capability == JOB_LAYOUT for f in check_layout(bad))


def test_config_only_jobs_skip_the_byoc_rules() -> None:
    files = {"config/config_fed_client.json": '{"executors": []}', "config/config_fed_server.json": "{}"}
    assert scan_files(files, byoc=False) == ()
    assert {f.capability for f in scan_files(files, byoc=True)} == {JOB_CONFIG}


# -- the job's own modules ---------------------------------------------------------------------------------


def test_relative_imports_inside_a_package_are_the_jobs_own() -> None:
    files = {
        "custom/pkg/__init__.py": "from .model import build\nfrom . import util\n",
        "custom/pkg/model.py": "from .util import helper\n\ndef build():\n    return helper()\n",
        "custom/pkg/util.py": "def helper():\n    return 1\n",
        "custom/main.py": "from pkg import build\nimport pkg.util as u\nbuild(); u.helper()\n",
    }
    assert scan_files(files) == ()


def test_a_module_reexported_through_two_helpers_is_still_judged() -> None:
    files = {
        "custom/a.py": "import subprocess as sp\n",
        "custom/b.py": "from a import sp as proc\n",
        "custom/main.py": "import b\nb.proc.run(['id'])\n",
    }
    found = {(f.file, f.capability) for f in scan_files(files)}
    assert ("custom/main.py", "subprocess") in found


def test_a_job_module_named_like_a_library_is_refused() -> None:
    files = {"custom/torch.py": "x = 1\n", "custom/main.py": "import torch\n"}
    assert any("shadows" in f.message for f in scan_files(files))


# -- the fixpoint always ends -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\ndtype = np.float32\ndtype = np.float64\nx = dtype\n",
        "import numpy as np\nx = np\nwhile True:\n    x = x.linalg\n",
        "p = ''\nwhile True:\n    p = p + 'a' + p\n",
        "\n".join(f"v{i} = v{i + 1}" for i in range(300)) + "\nv300 = v0\n",
        "a = b = c = None\nfor _ in range(9):\n    a, b, c = b, c, a\n",
    ],
)
def test_rebinding_in_any_order_terminates(source: str) -> None:
    findings = scan_source(source, "custom/x.py")
    assert all(f.severity in {"deny", "warn"} for f in findings)


def test_one_executor_and_no_secret_references() -> None:
    files = app({"execution_mode": "in_process", "task_script_path": "train.py"})
    config = json.loads(files["config/config_fed_client.json"])
    config["executors"].append(config["executors"][0])
    assert any("one" in m for _, m in config_findings({**files, "config/config_fed_client.json": json.dumps(config)}))
    secret = app({"execution_mode": "in_process", "task_script_path": "train.py", "task_script_args": "${secret:K}"})
    assert any("secret" in m for _, m in config_findings(secret))


def test_severity_survives_the_registry_codec_and_warnings_are_exposed() -> None:
    from policies.contracts import Finding, Verdict
    from policies.jobcodec import verdict_from_json, verdict_to_json

    findings = (
        Finding("custom/a.py", 3, "filesystem", "open() on a path computed at run time", "warn"),
        Finding("custom/a.py", 9, "network", "socket: network access", "deny"),
    )
    verdict = Verdict(False, (), findings, "p" * 64)
    again = verdict_from_json(json.loads(json.dumps(verdict_to_json(verdict))))
    assert again.findings == findings
    assert again.warnings == (findings[0],)
    legacy = verdict_to_json(verdict)
    for f in legacy["findings"]:
        del f["severity"]
    assert {f.severity for f in verdict_from_json(legacy).findings} == {"deny"}  # stored before severities
