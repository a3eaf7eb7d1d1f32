"""A researcher's own NVFlare job folder made ready for the consortium (`fednode study submit --job-folder`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fednode.errors import BadInputError
from node.coordinator.byoc import CONTROLLER_PATH, prepare_byoc_job, server_plan
from node.ml.ner.cdm import NER_SPLIT_COLUMNS
from policies.manifest import META_KEY as EMBEDDED_MANIFEST_KEY

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "byoc-ner"
SITES = ("site-1", "site-2")


@pytest.fixture
def job(tmp_path: Path) -> Path:
    copy = tmp_path / "researcher" / "byoc-ner"
    shutil.copytree(EXAMPLE, copy)
    return copy


def _meta(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return data


def test_the_example_job_is_prepared_with_the_coordinators_workflow(job: Path, tmp_path: Path) -> None:
    prepared = prepare_byoc_job(job, tmp_path / "jobs", sites=SITES, model_spec="tiny")

    assert prepared.folder == tmp_path / "jobs" / "byoc-ner"
    server = json.loads((prepared.folder / "app/config/config_fed_server.json").read_text(encoding="utf-8"))
    (workflow,) = server["workflows"]
    assert workflow["path"] == CONTROLLER_PATH
    assert workflow["args"]["num_rounds"] == 3 and workflow["args"]["min_clients"] == 2
    assert workflow["args"]["model_spec"] == "tiny" and workflow["args"]["algorithm"] == "fedavg"
    assert server["components"] == []
    # the client side is the researcher's, byte for byte
    for rel in ("app/config/config_fed_client.json", "app/custom/client.py", "app/custom/ner_data.py"):
        assert (prepared.folder / rel).read_bytes() == (EXAMPLE / rel).read_bytes()
    meta = _meta(prepared.folder)
    assert meta["mandatory_clients"] == list(SITES)
    assert meta["deploy_map"] == {"app": ["@ALL"]}
    assert EMBEDDED_MANIFEST_KEY in meta
    assert len(prepared.digest) == 64
    assert prepared.plan.source == "nvflare.app_common.workflows.fedavg.FedAvg"
    # the researcher's folder is untouched
    assert (job / "app/config/config_fed_server.json").read_bytes() == (
        EXAMPLE / "app/config/config_fed_server.json"
    ).read_bytes()


def test_the_manifest_declares_the_ner_split_and_byoc(job: Path, tmp_path: Path) -> None:
    from policies.manifest import manifest_for_site

    prepared = prepare_byoc_job(job, tmp_path / "jobs", sites=SITES, model_spec="tiny", study="ner-byoc")
    meta = {**_meta(prepared.folder), "job_id": "j-1"}  # NVFlare adds the job id at submission
    manifest = manifest_for_site(meta, "site-1")
    assert manifest.kind.value == "byoc"
    assert manifest.digest == prepared.digest
    assert manifest.data_access == dict(NER_SPLIT_COLUMNS)
    assert (manifest.study, manifest.algorithm, manifest.rounds) == ("ner-byoc", "fedavg", 3)
    assert {f.path for f in manifest.files} >= {"custom/client.py", "custom/ner_data.py"}


@pytest.mark.parametrize(
    ("workflow", "expected"),
    [
        ({"path": "nvflare.app_common.workflows.fedavg.FedAvg", "args": {"num_rounds": 7}}, ("fedavg", 7, 2)),
        (
            {"path": "nvflare.app_common.workflows.scaffold.Scaffold", "args": {"num_rounds": 2, "num_clients": 1}},
            ("scaffold", 2, 1),
        ),
        (
            {
                "path": "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather",
                "args": {"num_rounds": 4, "min_clients": 9},
            },
            ("fedavg", 4, 2),
        ),
    ],
)
def test_server_workflows_the_coordinator_runs(workflow: dict[str, Any], expected: tuple[str, int, int]) -> None:
    plan = server_plan({"workflows": [workflow]}, sites=2)
    assert (plan.algorithm, plan.rounds, plan.min_clients) == expected


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda j: (j / "meta.json").unlink(), "meta.json not found"),
        (lambda j: (j / "meta.json").write_text("{", encoding="utf-8"), "not valid JSON"),
        (lambda j: (j / "meta.json").write_text('{"name": "x"}', encoding="utf-8"), "deploy_map is missing"),
        (lambda j: shutil.rmtree(j / "app"), "its folder is missing"),
        (lambda j: (j / "app/config/config_fed_client.json").unlink(), "config_fed_client.json"),
        (lambda j: (j / "app/custom/evil.py").symlink_to("/etc/passwd"), "symbolic link"),
        (lambda j: (j / "app/custom/__pycache__").mkdir(), "compiled-code folder"),
        (lambda j: (j / "app/custom/ner_data.cpython-311.pyc").write_bytes(b"\0"), "compiled or native file"),
        (lambda j: (j / "app/custom/big.txt").write_bytes(b"x" * (3 * 1024 * 1024)), "at most"),
        (
            lambda j: (j / "app/config/config_fed_server.json").write_text(
                json.dumps({"workflows": [{"path": "my_code.MyController", "args": {}}]}), encoding="utf-8"
            ),
            "not one the coordinator runs",
        ),
        (
            lambda j: (j / "app/config/config_fed_server.json").write_text(
                json.dumps(
                    {"workflows": [{"path": "nvflare.app_common.workflows.fedavg.FedAvg", "args": {"num_rounds": 0}}]}
                ),
                encoding="utf-8",
            ),
            "num_rounds must be a positive integer",
        ),
    ],
)
def test_what_is_not_a_job_folder_is_refused_with_the_problem_named(
    job: Path, tmp_path: Path, damage: Any, message: str
) -> None:
    damage(job)
    with pytest.raises(BadInputError, match=message) as caught:
        prepare_byoc_job(job, tmp_path / "jobs", sites=SITES, model_spec="tiny")
    assert caught.value.exit_code == 4


def test_a_file_instead_of_a_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "job.zip"
    path.write_bytes(b"PK")
    with pytest.raises(BadInputError, match="is a file, not a job folder"):
        prepare_byoc_job(path, tmp_path / "jobs", sites=SITES, model_spec="tiny")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda j: (j / "meta.json").unlink(), "meta.json not found"),
        (lambda j: (j / "app/custom/link.py").symlink_to(j / "app/custom/client.py"), "symbolic link"),
    ],
)
def test_study_submit_refuses_a_bad_job_folder_with_exit_4_and_no_traceback(
    job: Path, tmp_path: Path, damage: Any, message: str
) -> None:
    from typer.testing import CliRunner

    from node.cli import app

    damage(job)
    res = CliRunner().invoke(
        app, ["--home", str(tmp_path / "home"), "--json", "study", "submit", "--job-folder", str(job)]
    )
    assert res.exit_code == 4, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_demo_refuses_a_bad_job_folder_before_setting_up_any_hospital(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from node.cli import app

    work = tmp_path / "demo"
    res = CliRunner().invoke(
        app, ["--home", str(tmp_path / "home"), "--json", "demo", "--job", str(tmp_path), "--workdir", str(work)]
    )
    assert res.exit_code == 4, res.output
    assert "meta.json not found" in res.output
    assert not work.exists()
