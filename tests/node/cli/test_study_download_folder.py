"""`fednode study download` leaves a model folder a site can use: the signed weights and provenance plus the
architecture, tokenizer, label map and manifest, verified again (under a fake admin API serving a signed result)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.coordinator.model_folder import MANIFEST_FILE, verify_model_folder
from node.coordinator.provenance import sign_final_model
from node.coordinator.provision import SiteKit, provision_federation
from node.kit.layout import COORDINATOR_KEY_DIR, COORDINATOR_PUBLIC_KEY
from node.ml.ner import load_ner_model

REPO = Path(__file__).resolve().parents[3]

_FAKE_ADMIN_API = """
import contextlib, shutil, sys
from pathlib import Path
import node.coordinator.launcher as launcher

RESULT = Path(sys.argv.pop(1))

@contextlib.contextmanager
def admin_session(federation, timeout_s):
    class Session:
        def download_job_result(self, job_id, destination):
            target = Path(destination) / job_id
            shutil.copytree(RESULT, target)
            return str(target)

    yield Session()

launcher.admin_session = admin_session
from node.cli.main import main
sys.argv = ["fednode", *sys.argv[1:]]
main()
"""


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Path]:
    """A provisioned federation whose coordinator admin port accepts TCP (a bare listener stands in for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        root = tmp_path / "federation"
        provision_federation(root, [SiteKit("site-1", "hospital_a")], fl_port=port, admin_port=port)
        yield root


def _result(tmp_path: Path, federation: Path) -> Path:
    """A job result as the coordinator leaves it: the app's server config and the signed tiny model."""
    fed = json.loads((federation / "federation.json").read_text())
    result = tmp_path / "server-result"
    config = result / "app_server" / "config"
    config.mkdir(parents=True)
    (config / "config_fed_server.json").write_text(json.dumps({"workflows": [{"args": {"model_spec": "tiny"}}]}))
    sign_final_model(
        run_dir=result / "app_server",
        key_dir=Path(fed["server_dir"]) / COORDINATOR_KEY_DIR,
        state=load_ner_model("tiny", seed=3).state(),
        job_id="job-9",
        job_digest="c" * 64,
        study="ncbi-ner",
        algorithm="fedavg",
        rounds=(),
        sites=("site-1",),
        approvals={},
    )
    return result


def test_download_completes_and_verifies_a_usable_model_folder(
    federation: Path, tmp_path: Path, fednode_home: Path
) -> None:
    result = _result(tmp_path, federation)
    out = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80", "FEDNODE_HOME": str(fednode_home)}
    args = ["--json", "study", "download", "job-9", "--out", str(out), "--federation", str(federation)]
    proc = subprocess.run(  # our own CLI under a fake admin API
        [sys.executable, "-c", _FAKE_ADMIN_API, str(result), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    folder = Path(payload["model_folder"])
    assert folder == out / "job-9" / "app_server"
    names = {p.name for p in folder.iterdir()}
    assert {"global_model.safetensors", "provenance.json", "provenance.sig.json"} <= names
    assert {"config.json", "tokenizer.json", "labels.json", MANIFEST_FILE} <= names
    assert json.loads((folder / "labels.json").read_text())["labels"] == ["O", "B-Disease", "I-Disease"]
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest["model_spec"] == "tiny" and manifest["study"] == "ncbi-ner"
    assert payload["nlp_system"] == manifest["nlp_system"] == f"fednode:ncbi-ner@sha256:{manifest['model_sha256']}"
    site_key = Path(json.loads((federation / "federation.json").read_text())["site_dirs"]["site-1"]) / "local"
    pinned = (site_key / COORDINATOR_PUBLIC_KEY).read_text(encoding="ascii")
    assert verify_model_folder(folder, [pinned]).manifest == manifest  # what a site checks before predicting
