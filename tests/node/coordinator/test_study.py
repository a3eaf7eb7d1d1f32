"""Building a study: a config-only job, every site mandatory, the reviewed manifest embedded in the meta."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fednode.errors import ConfigError
from node.coordinator.root_set import ROOT_TRAIN_KEYS
from node.coordinator.study import APP_NAME, CONTROLLER_PATH, EXECUTOR_PATH, StudySpec, build_job
from policies.contracts import JobKind
from policies.manifest import folder_digest, manifest_for_site


def test_the_job_lists_every_site_as_mandatory_and_carries_the_manifest(tmp_path: Path) -> None:
    spec = StudySpec(
        name="ner-study",
        sites=("site-1", "site-2", "site-3"),
        rounds=4,
        min_clients=2,
        algorithm="trimmed_mean",
        model_spec="tiny",
    )
    job, digest = build_job(spec, tmp_path)
    meta = json.loads((job / "meta.json").read_text())
    assert meta["mandatory_clients"] == ["site-1", "site-2", "site-3"]
    assert meta["min_clients"] == 3  # all must accept the job before it deploys; the quorum is per round
    assert meta["deploy_map"] == {APP_NAME: ["server", "site-1", "site-2", "site-3"]}
    assert digest == folder_digest(job / APP_NAME)
    manifest = manifest_for_site({**meta, "job_id": "j1"}, "site-2")
    assert manifest.digest == digest
    assert manifest.kind is JobKind.CONFIG_ONLY
    assert manifest.rounds == 4 and manifest.algorithm == "trimmed_mean"
    assert {f.path for f in manifest.files} == {"config/config_fed_server.json", "config/config_fed_client.json"}


def test_the_configs_name_our_controller_quorum_and_the_builtin_trainer(tmp_path: Path) -> None:
    spec = StudySpec(name="s", sites=("site-1", "site-2"), min_clients=1, rounds=2, max_examples=50)
    job, _ = build_job(spec, tmp_path)
    server = json.loads((job / APP_NAME / "config" / "config_fed_server.json").read_text())
    client = json.loads((job / APP_NAME / "config" / "config_fed_client.json").read_text())
    wf = server["workflows"][0]
    assert wf["path"] == CONTROLLER_PATH
    assert wf["args"]["min_clients"] == 1 and wf["args"]["num_rounds"] == 2
    executor = client["executors"][0]["executor"]
    assert executor["path"] == EXECUTOR_PATH
    assert executor["args"]["max_examples"] == 50


def test_changing_a_config_after_building_changes_the_digest(tmp_path: Path) -> None:
    job, digest = build_job(StudySpec(name="s", sites=("site-1",)), tmp_path)
    cfg = job / APP_NAME / "config" / "config_fed_client.json"
    cfg.write_text(cfg.read_text().replace('"local_epochs": 1', '"local_epochs": 9'))
    assert folder_digest(job / APP_NAME) != digest


@pytest.mark.parametrize(("sites", "min_clients", "rounds"), [((), None, 1), (("a",), 2, 1), (("a",), None, 0)])
def test_bad_specs_are_refused(sites: tuple[str, ...], min_clients: int | None, rounds: int) -> None:
    with pytest.raises(ConfigError):
        StudySpec(name="s", sites=sites, min_clients=min_clients, rounds=rounds)


def test_an_fltrust_study_gives_the_coordinator_the_sites_training_settings_for_its_root_update(
    tmp_path: Path,
) -> None:
    spec = StudySpec(
        name="s",
        sites=("site-1", "site-2"),
        algorithm="fltrust",
        batch_size=8,
        learning_rate=1e-3,
        root_size=50,
        executor_args={"max_steps": 4},
    )
    job, _ = build_job(spec, tmp_path)
    server = json.loads((job / APP_NAME / "config" / "config_fed_server.json").read_text())["workflows"][0]["args"]
    client = json.loads((job / APP_NAME / "config" / "config_fed_client.json").read_text())
    executor = client["executors"][0]["executor"]["args"]
    assert server["root_size"] == 50 and server["root_set"] is None  # None: the coordinator's bundled devel set
    assert server["root_train"] == {k: executor[k] for k in ROOT_TRAIN_KEYS if k in executor}
    assert server["root_train"]["max_steps"] == 4 and server["root_train"]["learning_rate"] == 1e-3
    other, _ = build_job(StudySpec(name="t", sites=("site-1",)), tmp_path)
    assert (
        "root_train"
        not in json.loads((other / APP_NAME / "config" / "config_fed_server.json").read_text())["workflows"][0]["args"]
    )
    with pytest.raises(ConfigError):
        StudySpec(name="s", sites=("a",), algorithm="fltrust", root_size=0)
