"""The NER model options (CRF, schedule, head learning rate, continuation sub-words) reach the trainer through
`fednode experiment`, the study's job config and the site executor, and a wrong value is refused where it is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import node.ml.experiments.simulation as simulation
from fednode.errors import ConfigError
from node.coordinator.root_set import train_config
from node.coordinator.study import StudySpec, executor_args
from node.ml.experiments import ExperimentConfig
from node.ml.fine_tuning import check_fine_tuning
from node.site.executor import NerExecutor
from tests.node.ner_support import MINI


def test_the_check_names_the_option_and_the_choices() -> None:
    check_fine_tuning(schedule="linear", head_lr=1e-3, subword_labels="continue")
    with pytest.raises(ConfigError, match=r"--schedule: unknown schedule 'cosine'; use one of: constant, linear"):
        check_fine_tuning(schedule="cosine", names={"schedule": "--schedule"})
    for bad in (0, -1e-3, float("nan"), "fast", True):
        with pytest.raises(ConfigError, match="head_lr: the head's learning rate must be a positive number"):
            check_fine_tuning(head_lr=bad)
    with pytest.raises(ConfigError, match="subword_labels: unknown sub-word labelling 'all'"):
        check_fine_tuning(subword_labels="all")  # `all` is the flare-example protocol's encoding, not a training mode


def test_experiment_config_refuses_a_bad_option_and_allows_continue_under_the_standard_protocol() -> None:
    with pytest.raises(ConfigError, match="--schedule"):
        ExperimentConfig(schedule="cosine")
    with pytest.raises(ConfigError, match="--head-lr"):
        ExperimentConfig(head_lr=0.0)
    with pytest.raises(ConfigError, match="--subword-labels"):
        ExperimentConfig(subword_labels="all")  # standard protocol: scored on the first piece
    cfg = ExperimentConfig(model="tiny+crf", subword_labels="continue")
    assert cfg.train_subwords == "continue" and cfg.learning_rate == 3e-3  # tiny's rate, CRF or not
    assert ExperimentConfig(protocol="flare-example", subword_labels="all").train_subwords == "first"


def _args(out: Path) -> list[str]:
    args = ["--json", "experiment", "clients", "--sites", "2", "--rounds", "1", "--train-limit", "16"]
    return [*args, "--test-limit", "8", "--data-dir", str(MINI), "--out", str(out)]


def test_experiment_passes_the_options_to_every_training_call(
    tmp_path: Path, fednode_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from node.cli import app

    seen: list[tuple[Any, bool]] = []
    original = simulation.train_local

    def spy(state: Any, shard: Any, config: Any, **kw: Any) -> Any:
        seen.append((config, kw["model"].has_crf))
        return original(state, shard, config, **kw)

    monkeypatch.setattr(simulation, "train_local", spy)
    out = tmp_path / "out"
    options = ["--model", "tiny+crf", "--schedule", "linear", "--head-lr", "1e-2", "--subword-labels", "continue"]
    result = CliRunner().invoke(app, [*_args(out), *options])
    assert result.exit_code == 0, result.output
    assert len(seen) == 3  # central + two sites
    for config, has_crf in seen:
        assert has_crf
        assert (config.schedule, config.head_lr, config.subword_labels) == ("linear", 1e-2, "continue")
    saved = json.loads((out / "experiment_clients.json").read_text())["config"]
    assert (saved["model"], saved["schedule"], saved["head_lr"], saved["subword_labels"]) == (
        "tiny+crf",
        "linear",
        1e-2,
        "continue",
    )
    assert "schedule linear" in (out / "experiment_clients.md").read_text()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--schedule", "cosine"), ("--head-lr", "-1"), ("--subword-labels", "sometimes"), ("--model", "nowhere+crf")],
)
def test_experiment_refuses_a_bad_option_before_anything_runs(
    tmp_path: Path, fednode_home: Path, option: str, value: str
) -> None:
    from node.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, [*_args(out), "--model", "tiny", option, value])
    error = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.exit_code == error["exit_code"] == (4 if option == "--model" else 2), result.output
    assert error["ok"] is False and error["message"].startswith(option)
    assert not out.exists()


def test_the_study_puts_the_options_in_the_job_and_the_executor_and_root_update_use_them() -> None:
    spec = StudySpec(
        name="s",
        sites=("site-1", "site-2"),
        model_spec="tiny+crf",
        schedule="linear",
        head_lr=1e-3,
        subword_labels="continue",
    )
    args = executor_args(spec)
    assert (args["model_spec"], args["schedule"], args["head_lr"], args["subword_labels"]) == (
        "tiny+crf",
        "linear",
        1e-3,
        "continue",
    )
    assert "schedule" not in executor_args(StudySpec(name="s", sites=("a",)))  # defaults stay out of the job
    executor = NerExecutor(**{k: v for k, v in args.items() if k != "validate_task"})
    assert (executor.config.schedule, executor.config.head_lr, executor.config.subword_labels) == (
        "linear",
        1e-3,
        "continue",
    )
    root = train_config({k: args[k] for k in ("schedule", "head_lr", "subword_labels", "learning_rate")})
    assert (root.schedule, root.head_lr, root.subword_labels) == ("linear", 1e-3, "continue")


def test_a_bad_option_in_the_job_config_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="schedule: unknown schedule 'warm'"):
        StudySpec(name="s", sites=("a",), schedule="warm")
    with pytest.raises(ConfigError, match="executor_args head_lr"):
        StudySpec(name="s", sites=("a",), executor_args={"head_lr": "fast"})
    with pytest.raises(ConfigError, match="executor argument subword_labels"):
        NerExecutor(model_spec="tiny", subword_labels="all")
    with pytest.raises(ConfigError, match="root_train schedule"):
        train_config({"schedule": "cosine"})
