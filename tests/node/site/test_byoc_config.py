"""What a BYOC client config may ask for, and the confined form the site rewrites it into."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fednode.errors import ByocConfigError, RefusedByPolicyError
from node.site.byoc_config import (
    CLIENT_API_EXECUTOR,
    EXTERNAL_PROCESS,
    IN_PROCESS,
    confined_config,
    plan_client_config,
    plan_client_config_text,
    resolve_script,
)


def _config(args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A client config as NVFlare 2.9's ScriptRunner exports it."""
    return {
        "format_version": 2,
        "executors": [{"tasks": ["*"], "executor": {"path": CLIENT_API_EXECUTOR, "args": args}}],
        "components": [],
        "task_data_filters": [],
        "task_result_filters": [],
        **extra,
    }


IN_PROC = _config(
    {
        "execution_mode": "in_process",
        "task_script_path": "train.py",
        "task_script_args": "--data_dir data --model_dir model --lr '1e-3'",
        "params_exchange_format": "pytorch",
    }
)
EXTERNAL = _config(
    {
        "execution_mode": "external_process",
        "command": ["python3", "-u", "custom/src/train.py", "--x", "1"],
        "shutdown_timeout": 0.0,
        "params_exchange_format": "pytorch",
    }
)


def test_an_in_process_script_runner_job_is_planned_with_its_split_arguments() -> None:
    task = plan_client_config(IN_PROC)
    assert task.script == "train.py"
    assert task.app_path == "custom/train.py"
    assert task.args == ("--data_dir", "data", "--model_dir", "model", "--lr", "1e-3")
    assert task.mode == IN_PROCESS


def test_an_external_script_runner_job_is_planned_from_its_command() -> None:
    task = plan_client_config(EXTERNAL)
    assert (task.script, task.args, task.mode) == ("src/train.py", ("--x", "1"), EXTERNAL_PROCESS)


def test_a_command_string_is_split_like_nvflare_does() -> None:
    cfg = _config({"execution_mode": "external_process", "command": "python -u custom/train.py --n 'a b'"})
    assert plan_client_config(cfg).args == ("--n", "a b")


def test_the_confined_config_runs_the_sites_command_as_an_external_process() -> None:
    command = ["/venv/bin/python", "-m", "node.site.trainer", "--spec", "/ws/j/spec.json", "--", "x"]
    original = copy.deepcopy(IN_PROC)
    out = confined_config(IN_PROC, command)
    args = out["executors"][0]["executor"]["args"]
    assert args == {
        "execution_mode": "external_process",
        "command": command,
        "launch_once": True,
        "params_exchange_format": "pytorch",
    }
    assert original == IN_PROC  # the input is not changed
    assert out["executors"][0]["executor"]["path"] == CLIENT_API_EXECUTOR


def test_the_confined_config_keeps_an_external_jobs_timeouts_but_not_its_command() -> None:
    args = confined_config(EXTERNAL, ["/py", "-m", "node.site.trainer"])["executors"][0]["executor"]["args"]
    assert args["command"] == ["/py", "-m", "node.site.trainer"]
    assert args["shutdown_timeout"] == 0.0


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["bash", "-c", "python3 custom/train.py"], "custom launcher command"),
        (["/usr/bin/python3", "-u", "custom/train.py"], "custom launcher command"),
        (["python3", "-c", "import os"], "custom/ folder"),
        (["python3", "-m", "evil"], "custom/ folder"),
        (["python3", "-u", "custom/../../x.py"], "relative .py path"),
        (["python3", "-u", "custom/train.cfg"], "relative .py path"),
        (["python3", "-u", "train.py"], "custom/ folder"),
        (["python3"], "custom launcher command"),
    ],
)
def test_any_other_launcher_command_is_refused_with_what_to_change(command: list[str], says: str) -> None:
    cfg = _config({"execution_mode": "external_process", "command": command})
    with pytest.raises(ByocConfigError, match=says):
        plan_client_config(cfg)


@pytest.mark.parametrize(
    ("script", "ok"),
    [
        ("train.py", True),
        ("pkg/train.py", True),
        ("./train.py", True),
        ("/abs/train.py", False),
        ("../train.py", False),
        ("a/../../train.py", False),
        ("train", False),
        ("train.pyc", False),
        ("dir\\train.py", False),
        ("my train.py", False),
    ],
)
def test_the_in_process_script_must_be_a_plain_relative_py_path(script: str, ok: bool) -> None:
    cfg = _config({"execution_mode": "in_process", "task_script_path": script})
    if ok:
        assert plan_client_config(cfg).script == script.removeprefix("./")
    else:
        with pytest.raises(ByocConfigError, match=r"relative \.py path"):
            plan_client_config(cfg)


def test_an_executor_class_not_on_the_list_is_refused_and_the_error_is_a_policy_refusal() -> None:
    cfg = copy.deepcopy(IN_PROC)
    cfg["executors"][0]["executor"]["path"] = "custom_trainer.Trainer"
    with pytest.raises(RefusedByPolicyError, match="not on this site's list"):
        plan_client_config(cfg)


@pytest.mark.parametrize(
    "where",
    [
        {"components": [{"id": "x", "path": "mycode.Widget", "args": {}}]},
        {"task_result_filters": [{"tasks": ["*"], "filters": [{"path": "mycode.Filter"}]}]},
        {"components": [{"id": "x", "name": "Widget", "args": {}}]},
    ],
)
def test_a_component_or_filter_from_the_jobs_code_is_refused(where: dict[str, Any]) -> None:
    with pytest.raises(ByocConfigError):
        plan_client_config({**IN_PROC, **where})


def test_a_class_the_site_policy_adds_passes_the_gate_check_and_the_launch_rewrite_alike() -> None:
    widget = {"components": [{"id": "x", "path": "nvflare.app_common.widgets.streaming.LogSender", "args": {}}]}
    cfg = {**IN_PROC, **widget}
    with pytest.raises(ByocConfigError, match="not on this site's list"):
        plan_client_config(cfg)
    extra = ["nvflare.app_common.widgets.streaming.LogSender"]
    assert plan_client_config(cfg, extra).script == "train.py"
    assert plan_client_config_text(json.dumps(cfg), extra).script == "train.py"
    rewritten = confined_config(cfg, ["/usr/bin/python3", "-m", "node.site.trainer"], extra)
    assert rewritten["components"] == widget["components"]
    with pytest.raises(ByocConfigError):
        confined_config(cfg, ["/usr/bin/python3"])


def test_a_class_nested_in_the_executor_args_is_refused() -> None:
    cfg = copy.deepcopy(IN_PROC)
    cfg["executors"][0]["executor"]["args"]["params_exchange_format"] = {"path": "mycode.Evil", "args": {}}
    with pytest.raises(ByocConfigError, match=r"mycode\.Evil"):
        plan_client_config(cfg)


def test_nvflares_privacy_filters_are_allowed() -> None:
    flt = {"path": "nvflare.app_common.filters.exclude_vars.ExcludeVars", "args": {"exclude_vars": ["a"]}}
    cfg = {**IN_PROC, "task_result_filters": [{"tasks": ["train"], "filters": [flt]}]}
    assert plan_client_config(cfg).script == "train.py"


@pytest.mark.parametrize(
    "args",
    [
        "--key ${secret:file:/var/lib/fednode/keys/site.key}",
        "--token ${secret:FEDNODE_DEID__SECRET}",
    ],
)
def test_a_secret_reference_anywhere_is_refused(args: str) -> None:
    # NVFlare resolves these in the job process, from its environment or ANY file it can read
    cfg = copy.deepcopy(IN_PROC)
    cfg["executors"][0]["executor"]["args"]["task_script_args"] = args
    with pytest.raises(ByocConfigError, match="secret"):
        plan_client_config(cfg)


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda c: c["executors"].append(copy.deepcopy(c["executors"][0])), "exactly one executor"),
        (lambda c: c["executors"][0]["executor"]["args"].update(execution_mode="attach"), "'attach'"),
        (lambda c: c["executors"][0]["executor"]["args"].update(launch_once=False), "not valid"),
        (lambda c: c["executors"][0]["executor"]["args"].update(attach_id="x"), "cannot run confined"),
        (lambda c: c["executors"][0]["executor"]["args"].pop("task_script_path"), "task_script_path"),
        (lambda c: c["executors"][0]["executor"]["args"].update(task_script_args=3), "must be a string"),
        (lambda c: c["executors"][0]["executor"]["args"].update(task_script_args="'open"), "unclosed quote"),
    ],
)
def test_configs_the_site_cannot_run_confined_say_why(mutate: Any, says: str) -> None:
    cfg = copy.deepcopy(IN_PROC)
    mutate(cfg)
    with pytest.raises(ByocConfigError, match=says):
        plan_client_config(cfg)


def test_a_scriptrunner_export_is_accepted_in_both_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nvflare.app_common.workflows.fedavg import FedAvg
    from nvflare.job_config.api import FedJob
    from nvflare.job_config.script_runner import ScriptRunner

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("import nvflare.client as flare\n")
    job = FedJob(name="j", min_clients=2)
    job.to_server(FedAvg(num_clients=2, num_rounds=1))
    job.to(ScriptRunner(script="train.py", script_args="--data_dir data --model_dir model"), "site-1")
    job.to(ScriptRunner(script="train.py", script_args="--epochs 1", launch_external_process=True), "site-2")
    job.export_job(str(tmp_path / "out"))
    for site, args in (("site-1", ("--data_dir", "data", "--model_dir", "model")), ("site-2", ("--epochs", "1"))):
        text = (tmp_path / "out" / "j" / f"app_{site}" / "config" / "config_fed_client.json").read_text()
        task = plan_client_config_text(text)
        assert (task.app_path, task.args) == ("custom/train.py", args)
        rewritten = confined_config(json.loads(text), ["/py"])
        assert rewritten["executors"][0]["executor"]["args"]["execution_mode"] == "external_process"


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(ByocConfigError, match="not JSON"):
        plan_client_config_text("{")


@pytest.mark.parametrize(
    ("script", "files", "found"),
    [
        ("train.py", ["custom/train.py"], "train.py"),
        ("train.py", ["custom/src/train.py", "custom/src/util.py"], "src/train.py"),  # as NVFlare's TaskScriptRunner
        ("custom/train.py", ["custom/train.py"], "train.py"),
        ("src/train.py", ["custom/src/train.py"], "src/train.py"),
    ],
)
def test_an_in_process_script_is_found_as_nvflare_finds_it(script: str, files: list[str], found: str) -> None:
    cfg = _config({"execution_mode": "in_process", "task_script_path": script})
    assert resolve_script(plan_client_config(cfg), files).script == found


@pytest.mark.parametrize(
    ("mode_args", "files", "says"),
    [
        ({"execution_mode": "in_process", "task_script_path": "train.py"}, ["custom/a/train.py", "custom/b/train.py"],
         "several files"),
        ({"execution_mode": "in_process", "task_script_path": "train.py"}, ["custom/other.py"], "not in the app"),
        ({"execution_mode": "external_process", "command": "python3 -u custom/train.py"}, ["custom/src/train.py"],
         "not in the app"),  # a command names its file literally
    ],
)  # fmt: skip
def test_a_script_that_is_missing_or_ambiguous_is_refused(
    mode_args: dict[str, Any], files: list[str], says: str
) -> None:
    with pytest.raises(ByocConfigError, match=says):
        resolve_script(plan_client_config(_config(mode_args)), files)
