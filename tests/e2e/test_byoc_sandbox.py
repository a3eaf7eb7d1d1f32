"""The runtime sandbox end to end, with the static scan switched off (issue 12, part 3's acceptance).

Two hospitals and a coordinator as real NVFlare processes on loopback. Each site allows BYOC and judges jobs by
its policy rules alone (``tests.e2e.byoc_fixtures.ScanOff``: no static scan), so a job whose code tries every
forbidden action is approved and launched. Its script runs as NVFlare's ordinary in-process Client API job
would be written; the site runs it confined instead. It tries to connect out (to the coordinator's port and to
the internet), read ``omop.db``, ``state.db`` and the site key, read another job's folder, spawn a shell, find
secrets in its environment or its job process's ``/proc/<pid>/environ``, write outside its folder, patch the
egress guard's source and stop its job process. Every attempt fails at run time, the site audits
``sandbox:denied`` by category, and none of the canaries it was after is anywhere on the coordinator's side.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from fednode.settings import load_settings
from node.coordinator.launcher import LocalFederation
from node.coordinator.study import StudyClient
from node.local.demo import Consortium, DemoConfig, approve_as_demo, prepare_consortium
from node.local.harness import Steps
from node.site.sandbox import probe
from node.site.staging import NER_SPLIT_COLUMNS
from policies.audit import AuditEvent
from policies.compile import compile_site
from policies.contracts import JobState
from policies.manifest import Declaration, embed_manifest
from policies.policy_model import load_policy
from policies.state_db import open_state_db
from tests.e2e.byoc_fixtures import ATTACK_SCRIPT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not probe().available, reason=f"the kernel cannot confine: {probe().reason}"),
]

REPO = Path(__file__).resolve().parents[2]
GUARD = REPO / "node" / "site" / "egress" / "guard.py"
CANARY_ENV = "canary-env-7f3a9c"
CANARY_KEY = "canary-key-51e0d2"
CANARY_JOB = "canary-job-c4b8e1"
CANARIES = (CANARY_ENV, CANARY_KEY, CANARY_JOB)


@dataclass
class Running:
    consortium: Consortium
    federation: LocalFederation
    client: StudyClient

    @property
    def sites(self) -> list[str]:
        return list(self.consortium.homes)


def _allow_byoc(home: Path, kit: Path) -> None:
    """Allow BYOC in the site's policy, recompile its authorization, switch its scan off, plant canaries."""
    path = home / "policy.yaml"
    policy = yaml.safe_load(path.read_text(encoding="utf-8"))
    policy["jobs"]["kinds"] = ["config_only", "byoc"]
    policy["sandbox"] = {"wall_minutes": 10, "memory_mib": 4096, "max_processes": 64}
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    files = compile_site(load_policy(path))
    (kit / "local" / "authorization.json").write_text(json.dumps(files.authorization, indent=2))
    resources_path = kit / "local" / "resources.json"
    resources = json.loads(resources_path.read_text())
    resources["components"].insert(0, {"id": "test_scan_off", "path": "tests.e2e.byoc_fixtures.ScanOff", "args": {}})
    resources_path.write_text(json.dumps(resources, indent=2))
    (home / "keys").mkdir(mode=0o700, exist_ok=True)
    (home / "keys" / "canary.key").write_text(CANARY_KEY)
    other = kit / "an-earlier-job" / f"app_{kit.name}"
    other.mkdir(parents=True)
    (other / "notes.txt").write_text(CANARY_JOB)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    config = DemoConfig(sites=2, sentences=60, model_spec="tiny", rounds=1, workdir=tmp_path_factory.mktemp("byoc"))
    consortium = prepare_consortium(config, Steps(Console(stderr=True), False))
    for site, home in consortium.homes.items():
        _allow_byoc(home, consortium.federation.site_dirs[site])
    env = {**consortium.env, "FEDNODE_DEID__SECRET": CANARY_ENV, "PYTHONPATH": str(REPO)}  # tests.e2e for ScanOff
    with LocalFederation(consortium.federation, site_homes=consortium.homes, env=env) as lf:
        lf.start(timeout_s=300)
        yield Running(consortium, lf, StudyClient(consortium.federation))


def _attack_job(run: Running, root: Path) -> Path:
    """An NVFlare job folder as ScriptRunner writes it (in-process Client API), one app per site."""
    job = root / "byoc-attack"
    server = job / "app_server" / "config"
    server.mkdir(parents=True)
    workflow = {
        "id": "fedavg",
        "path": "nvflare.app_common.workflows.fedavg.FedAvg",
        "args": {"num_clients": 2, "num_rounds": 1, "model": {"w": [0.0, 0.0]}},
    }
    (server / "config_fed_server.json").write_text(
        json.dumps({"format_version": 2, "workflows": [workflow], "components": []})
    )
    deploy = {"app_server": ["server"]}
    for site in run.sites:
        home = run.consortium.homes[site]
        kit = run.consortium.federation.site_dirs[site]
        args = [
            f"--home {home}",
            f"--key {home / 'keys' / 'canary.key'}",
            f"--other_job {kit / 'an-earlier-job' / f'app_{kit.name}' / 'notes.txt'}",
            f"--guard {GUARD}",
            f"--server_port {run.consortium.federation.fl_port}",
        ]
        executor = {
            "path": "nvflare.app_common.executors.client_api_executor.ClientAPIExecutor",
            "args": {
                "execution_mode": "in_process",
                "task_script_path": "attack.py",
                "task_script_args": " ".join(args),
                "params_exchange_format": "numpy",
            },
        }
        app = job / f"app_{site}"
        (app / "config").mkdir(parents=True)
        (app / "custom").mkdir()
        (app / "custom" / "attack.py").write_text(ATTACK_SCRIPT)
        client = {"format_version": 2, "executors": [{"tasks": ["*"], "executor": executor}], "components": []}
        (app / "config" / "config_fed_client.json").write_text(json.dumps(client))
        deploy[f"app_{site}"] = [site]
    meta = {"name": "byoc-attack", "resource_spec": {}, "min_clients": 2, "deploy_map": deploy}
    meta["mandatory_clients"] = run.sites
    (job / "meta.json").write_text(json.dumps(meta))
    declaration = Declaration(study="byoc-attack", rounds=1, algorithm="fedavg", data_access=NER_SPLIT_COLUMNS)
    embed_manifest(job, declaration)
    return job


def _eventually(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(1.0)


def _state(run: Running, site: str, job_id: str) -> JobState | None:
    db = open_state_db(load_settings(home=run.consortium.homes[site], site_name=site))
    try:
        return next((j.state for j in db.jobs.list_jobs() if j.job_id == job_id), None)
    finally:
        db.close()


def _denials(run: Running, site: str, job_id: str) -> list[dict[str, object]]:
    db = open_state_db(load_settings(home=run.consortium.homes[site], site_name=site))
    try:
        return [dict(r.details) for r in db.audit.records(job_id=job_id, events=[AuditEvent.SANDBOX_DENIED])]
    finally:
        db.close()


def _outcomes(kit: Path, job_id: str) -> dict[str, str]:
    for log in (kit / job_id).rglob("log*.txt"):
        for line in log.read_text(errors="replace").splitlines():
            if "FEDNODE_ATTACK " in line:
                return json.loads(line.split("FEDNODE_ATTACK ", 1)[1])  # type: ignore[no-any-return]
    return {}


def test_every_forbidden_action_is_stopped_audited_and_nothing_reaches_the_coordinator(
    running: Running, tmp_path: Path
) -> None:
    job_id = running.client.submit(_attack_job(running, tmp_path))
    _eventually(
        lambda: all(_state(running, s, job_id) is JobState.PENDING for s in running.sites), 120, "pending at sites"
    )
    for site in running.sites:
        approve_as_demo(running.consortium.homes[site], site, job_id)
    running.client.wait(job_id, timeout_s=400)
    _eventually(
        lambda: all(_denials(running, s, job_id) for s in running.sites), 60, "sandbox:denied in every site's audit"
    )

    for site in running.sites:
        kit = running.consortium.federation.site_dirs[site]
        outcomes = _outcomes(kit, job_id)
        assert outcomes, f"{site}: the job's script did not run (no outcome line in its log)"
        assert "ok" not in outcomes.values(), f"{site}: allowed at run time: {outcomes}"
        assert outcomes["env_secrets"] == "LookupError"  # nothing secret in its environment to find
        categories = {str(d["category"]) for d in _denials(running, site, job_id)}
        assert {"network", "file-read", "file-write", "process"} <= categories, categories
        # the job's data was staged for it and removed when it ended; the guard's source is untouched
        app = kit / job_id / f"app_{site}"
        assert not (app / "data").exists() and not (app / "model").exists()
        assert not (kit / job_id / "pwned.txt").exists()
        assert "EgressGuard = None" not in GUARD.read_text()

    server = running.consortium.federation.server_dir
    for path in server.rglob("*"):
        if path.is_file() and path.stat().st_size < 50 * 2**20:
            data = path.read_bytes()
            for canary in CANARIES:
                assert canary.encode() not in data, f"{canary} reached the coordinator in {path.name}"
