"""The appliance as a hospital runs it: both images built, a coordinator stack and two site stacks from the
shipped compose files on a Docker bridge network, every step through ``docker-compose`` and ``exec``.

Provisioning (coordinator host name as on the network, one port for FL and admin), each site's data through the
one-off ``etl``/``deid``/``dq`` services, the NER study (tiny model) submitted at the coordinator and HELD at both
sites, approved in each site with ``fednode approve``, trained, downloaded with its signature verified (in the
container and again here against the key pinned in a site kit); then a researcher's own job folder
(``examples/byoc-ner``, bring-your-own-code) submitted, held, approved and run CONFINED in each site container as
compose runs it (read-only, no capabilities, uid 10001), its staged data removed afterwards; then a
six-round study whose coordinator container is killed (``docker kill``) once a round is checkpointed, started again
and continued with ``fednode study resume`` (same rounds, the restart in the signed provenance, ``job:resumed`` and
no second review at the sites); then one site stopped and the other restarted with its state intact. ``fednode
doctor`` runs in a one-off site container (``compose run --rm site``): kit, DNS, TCP and TLS pass against the running
coordinator, and with the coordinator stopped it names the cause and exits 1. Everything started here is removed at
the end.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.e2e.docker_harness import (
    REPO,
    Network,
    Stack,
    build_images,
    require_docker,
    sh,
    wait_until,
)

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.slow]

SITES = ("site-1", "site-2")
SERVER_HOST = "coordinator"
APPROVER = "dr.e2e"
UID = 10001
OVERRIDES = REPO / "tests" / "e2e" / "compose"
RESUME_ROUNDS = 6


@dataclass
class Federation:
    """The stacks of one run and the host folders they mount."""

    run_id: str
    root: Path
    network: Network
    coordinator: Stack
    sites: dict[str, Stack]
    site_kits: dict[str, Path]

    def all_stacks(self) -> list[Stack]:
        return [self.coordinator, *self.sites.values()]


def _cli(*args: str, home: Path) -> dict[str, Any]:
    """``fednode --json ...`` on the host (provisioning happens at the coordinator operator's workstation)."""
    env = {**os.environ, "FEDNODE_HOME": str(home), "HOME": str(home)}
    proc = subprocess.run(  # our own CLI, fixed arguments
        [sys.executable, "-c", "from node.cli import main; main()", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return payload


def _site_policy(site: str) -> dict[str, Any]:
    """The example policy with this federation's identities: the coordinator by its network name, one approver."""
    from node.local.demo import site_policy

    policy = site_policy(site, sites=len(SITES), min_records=10, byoc=True)
    policy["participants"]["coordinators"] = [{"name": SERVER_HOST, "org": "coordinator"}]
    policy["approval"] = {"approvers": [APPROVER], "required_approvals": 1, "totp_required": False, "identity": "name"}
    return policy


def _chown_tree(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        os.chown(p, UID, UID, follow_symlinks=False)


def _prepare_site_folder(root: Path, site: str, kit: Path, data: Any) -> dict[str, str]:
    """The folder a hospital's IT prepares next to compose/site.yml; returns the compose environment."""
    import shutil

    from node.local.demo import DQ_ACCEPTED, DQ_ACCEPTED_SPLIT

    folder = root / site
    (folder / "secrets").mkdir(parents=True)
    shutil.copytree(kit, folder / "secrets" / "startup_kit")
    key = folder / "secrets" / "site_key.pem"
    if site == SITES[0]:  # IT supplies the key (installed into the volume at boot) ...
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key.write_bytes(pem)
    else:  # ... or leaves the file empty and the site creates its own
        key.write_bytes(b"")
    key.chmod(0o600)
    totp = folder / "secrets" / "totp.toml"  # approvers may also enrol inside the container
    totp.write_text("", encoding="utf-8")
    totp.chmod(0o600)
    deid = folder / "secrets" / "deid.json"  # the site's de-identification secret (`deid run` refuses without one)
    deid.write_text(json.dumps({"secret": secrets.token_hex(32)}), encoding="utf-8")
    deid.chmod(0o600)
    (folder / "policy.yaml").write_text(yaml.safe_dump(_site_policy(site), sort_keys=False), encoding="utf-8")
    source = folder / "source"
    shutil.copytree(data.synthea, source / "synthea")
    shutil.copyfile(data.notes, source / "notes.jsonl")
    (source / "dq-accepted.txt").write_text(
        DQ_ACCEPTED.read_text(encoding="utf-8") + DQ_ACCEPTED_SPLIT, encoding="utf-8"
    )
    _chown_tree(folder)
    return {
        "FEDNODE_SITE_NAME": site,
        "FEDNODE_STARTUP_KIT": str(folder / "secrets" / "startup_kit"),
        "FEDNODE_SITE_KEY": str(key),
        "FEDNODE_TOTP_SECRETS": str(totp),
        "FEDNODE_DEID_SECRET": str(deid),
        "FEDNODE_POLICY": str(folder / "policy.yaml"),
        "FEDNODE_SOURCE": str(source),
    }


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    require_docker()
    t0 = time.monotonic()
    build_images()
    print(f"\n[e2e] images built in {time.monotonic() - t0:.0f} s", flush=True)
    from node.local.data import prepare_sites

    root = tmp_path_factory.mktemp("docker-fed")
    root.chmod(0o755)
    run_id = f"fnd{os.getpid()}{int(time.time()) % 100000}"
    fed = _cli(
        "provision",
        *[arg for s in SITES for arg in ("--site", s)],
        "--out",
        str(root / "provision"),
        "--server-host",
        SERVER_HOST,
        "--port",
        "8002",
        "--admin-port",
        "8002",
        home=root / "operator",
    )
    server_kit, admin_kit = root / "coordinator" / "server_kit", root / "coordinator" / "admin_kit"
    import shutil

    shutil.copytree(fed["server_dir"], server_kit)
    shutil.copytree(fed["admin_dir"], admin_kit)
    _chown_tree(root / "coordinator")
    datasets = {d.site: d for d in prepare_sites(list(SITES), root / "data", sentences=60, seed=0)}
    network = Network(name=f"{run_id}-net")
    common = {"FEDNODE_E2E_NETWORK": network.name, "FEDNODE_SERVER_HOST": SERVER_HOST}
    coordinator = Stack(
        project=f"{run_id}-coordinator",
        files=[REPO / "compose" / "coordinator.yml", OVERRIDES / "coordinator.network.yml"],
        env={
            **common,
            "FEDNODE_SERVER_KIT": str(server_kit),
            "FEDNODE_ADMIN_KIT": str(admin_kit),
            "FEDNODE_SITES": ",".join(SITES),
            "FEDNODE_PORT": "127.0.0.1:",  # a free loopback port: never 8002 on a shared machine
        },
    )
    sites = {
        s: Stack(
            project=f"{run_id}-{s}",
            files=[REPO / "compose" / "site.yml", OVERRIDES / "site.network.yml"],
            env={**common, **_prepare_site_folder(root / "sites", s, Path(fed["site_dirs"][s]), datasets[s])},
        )
        for s in SITES
    }
    federation = Federation(
        run_id, root, network, coordinator, sites, {s: Path(p) for s, p in fed["site_dirs"].items()}
    )
    failed = True
    try:
        network.create()
        yield federation
        failed = False
    finally:
        for stack in federation.all_stacks():
            if failed:
                print(f"\n===== logs of {stack.project} =====\n{stack.logs()}", flush=True)
            stack.down()
        network.remove()


def _health(stack: Stack, service: str) -> str:
    cid = stack.compose("ps", "-q", service, timeout=60).stdout.strip()
    if not cid:
        return "absent"
    out = sh(["docker", "inspect", "--format", "{{.State.Health.Status}}", cid], timeout=60, check=False)
    return out.stdout.strip()


def _registered_sites(coordinator: Stack) -> set[str]:
    """Site names the coordinator's FLARE server has registered, through the admin API in the container."""
    script = (
        "import json,sys\n"
        "from node.kit.layout import load_federation\n"
        "from node.coordinator.launcher import admin_session\n"
        "with admin_session(load_federation(__import__('pathlib').Path('/var/lib/fednode/federation')), 30) as s:\n"
        "    info = s.get_system_info()\n"
        "print(json.dumps([c.name for c in info.client_info]))\n"
    )
    out = coordinator.exec("coordinator", "python", "-c", script, timeout=120, check=False)
    if out.returncode != 0:
        return set()
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _site_jobs(stack: Stack) -> dict[str, dict[str, Any]]:
    payload = stack.exec_json("site", "jobs", timeout=120)
    jobs = payload["jobs"]
    assert isinstance(jobs, list)
    return {j["job_id"]: j for j in jobs}


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.last = self.t0

    def lap(self, what: str) -> None:
        now = time.monotonic()
        print(f"[e2e] {what}: {now - self.last:.0f} s (total {now - self.t0:.0f} s)", flush=True)
        self.last = now


def _doctor(stack: Stack) -> tuple[int, dict[str, Any]]:
    """``docker compose run --rm site fednode --json doctor``, as the compose file tells hospital IT to run it."""
    out = stack.compose("run", "--rm", "-T", "site", "fednode", "--json", "doctor", timeout=300, check=False)
    lines = out.stdout.strip().splitlines()
    assert lines, f"doctor printed nothing (exit {out.returncode}): {out.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return out.returncode, report


def _checks(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in report["checks"]}


def _checkpointed_round(container: str, job_id: str) -> int:
    """The last round the coordinator checkpointed for the study (-1: none yet), read in its state volume."""
    from node.coordinator.checkpoint import CHECKPOINTS_DIR, COMMIT_FILE

    path = f"/var/lib/fednode/nvflare/{CHECKPOINTS_DIR}/{job_id}/{COMMIT_FILE}"
    out = sh(["docker", "exec", container, "cat", path], timeout=60, check=False)
    try:
        return int(json.loads(out.stdout)["round"])
    except (ValueError, KeyError, TypeError):
        return -1


def _audit_records(stack: Stack) -> list[dict[str, Any]]:
    """The site's audit log (``fednode audit export`` to stdout), its records only."""
    lines = stack.exec("site", "fednode", "audit", "export", timeout=120).stdout.splitlines()
    objs = [json.loads(line) for line in lines if line.startswith("{")]
    return [o for o in objs if o.get("type") == "record"]


def _wait_finished(coord: Stack, job_id: str, what: str) -> None:
    def finished() -> bool:
        state = coord.exec_json("coordinator", "study", "status", job_id)["status"]
        assert not str(state).startswith(("FAILED", "ABORTED", "FINISHED:EXEC", "FINISHED:ABORT")), state
        return str(state).startswith("FINISHED")

    wait_until(finished, timeout=900, interval=5, what=f"{what} {job_id} to finish")
    assert coord.exec_json("coordinator", "study", "status", job_id)["status"] == "FINISHED:COMPLETED"


def _kill_restart_and_resume(federation: Federation, clock: _Clock) -> None:
    """Issue 16.2 in containers: `docker kill` the coordinator once a round is checkpointed, start it again, and
    `fednode study resume` (the operator's command, in the coordinator container) finishes the study: the same
    number of rounds, a model that verifies with the restart in its provenance, no second review at the sites."""
    coord, sites = federation.coordinator, federation.sites
    submitted = coord.exec_json(
        "coordinator",
        "study",
        "submit",
        "--limitations",
        "/var/lib/fednode/limitations.md",
        "--name",
        "ner-resume",
        "--rounds",
        str(RESUME_ROUNDS),
        "--model",
        "tiny",
        "--max-examples",
        "40",
        timeout=300,
    )
    first, digest = str(submitted["job_id"]), str(submitted["digest"])
    for site, stack in sites.items():
        wait_until(
            lambda s=stack: _site_jobs(s).get(first, {}).get("state") == "pending",
            timeout=180,
            what=f"{site} to hold job {first} as pending",
        )
        approved = stack.exec_json("site", "approve", first, "--reason", "e2e review", "--approver", APPROVER)
        assert approved["job"]["state"] == "approved", (site, approved)
    cid = coord.compose("ps", "-q", "coordinator").stdout.strip()
    wait_until(
        lambda: _checkpointed_round(cid, first) >= 0, timeout=600, interval=1, what=f"a checkpointed round of {first}"
    )
    sh(["docker", "kill", cid], timeout=60)
    clock.lap("study approved, a round checkpointed, coordinator container killed")

    coord.start("coordinator")
    wait_until(lambda: _health(coord, "coordinator") == "healthy", timeout=240, what="the coordinator healthy again")
    wait_until(lambda: _registered_sites(coord) >= set(SITES), timeout=240, interval=5, what="both sites back")
    for _ in range(10):  # asked again while the restarted server is too busy to answer (exit 1: service error)
        out = coord.exec("coordinator", "fednode", "--json", "study", "resume", first, timeout=300, check=False)
        if out.returncode != 1:
            break
        time.sleep(5)
    assert out.returncode == 0, f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    resumed = json.loads(out.stdout.strip().splitlines()[-1])
    second, after = str(resumed["job_id"]), resumed["after_round"]
    assert resumed["first_job"] == first and isinstance(after, int), resumed
    assert 0 <= after < RESUME_ROUNDS - 1, f"the study was not killed mid-study: {resumed}"
    clock.lap(f"coordinator restarted, study resumed after round {after}")

    _wait_finished(coord, second, "resumed job")
    downloaded = coord.exec_json(
        "coordinator", "study", "download", second, "--out", "/var/lib/fednode/results-resumed", timeout=300
    )
    assert downloaded["job_digest"] == digest, downloaded
    local = federation.root / "result-resumed"
    sh(["docker", "cp", f"{cid}:{Path(str(downloaded['model'])).parent}", str(local)], timeout=120)
    from node.coordinator.signing import verify_signed_model
    from node.kit.layout import COORDINATOR_PUBLIC_KEY

    pinned = (federation.site_kits[SITES[0]] / "local" / COORDINATOR_PUBLIC_KEY).read_text(encoding="ascii")
    prov = verify_signed_model(local, [pinned], expected_job_digest=digest).provenance
    assert [r.round for r in prov.rounds] == list(range(RESUME_ROUNDS))  # the same number of rounds
    assert [(r["job_id"], r["resumed_from"], r["after_round"]) for r in prov.restarts] == [(second, first, after)]
    for site, stack in sites.items():
        job = _site_jobs(stack)[second]
        assert job["state"] == "finished" and job["digest"] == digest, (site, job)
        records = _audit_records(stack)
        events = [r["event"] for r in records if r.get("job_id") == second]
        assert "job:resumed" in events, (site, events)
        assert "job:pending" not in events and "job:approved" not in events, (site, events)  # nobody asked again
        reserved = [r for r in records if r["event"] == "budget:reserved" and r.get("job_id") in (first, second)]
        assert len(reserved) <= 1, (site, reserved)  # the study's budget is reserved once, not again on resume
    clock.lap("resumed study finished; model verified with the restart in its provenance")


@pytest.mark.timeout(2400)  # a cold image build (~3 min) plus the flow (~13 min on a busy 2-core machine)
def test_docker_federation_holds_trains_and_keeps_site_state(federation: Federation) -> None:
    clock = _Clock()
    coord, sites = federation.coordinator, federation.sites

    # 1. coordinator and both sites up, health checks green, both sites registered with the server
    coord.up("coordinator")
    wait_until(lambda: _health(coord, "coordinator") == "healthy", timeout=240, what="a healthy coordinator")
    for stack in sites.values():
        stack.up("site")
    for site, stack in sites.items():
        wait_until(lambda s=stack: _health(s, "site") == "healthy", timeout=240, what=f"a healthy {site}")
    wait_until(lambda: _registered_sites(coord) >= set(SITES), timeout=240, interval=5, what="both sites registered")
    clock.lap("stacks up, healthy and connected")

    # 2. each hospital's data: ETL (Synthea -> OMOP CDM), de-identification into NOTE/NOTE_NLP, the DQ gate
    for site, stack in sites.items():
        stack.run("etl", timeout=900)
        deid = json.loads(
            stack.run("deid", "fednode", "--json", "deid", "run", "--input", "/data/source/notes.jsonl")
            .stdout.strip()
            .splitlines()[-1]
        )
        assert deid["ok"] is True, site
        stack.run("dq", "fednode", "dq", "--accept", "/data/source/dq-accepted.txt", timeout=900)
    clock.lap("ETL, de-identification and DQ at both sites")

    # 2b. the doctor: at each site in a one-off container (`compose run --rm site fednode doctor`), kit, DNS, TCP and
    # mutual TLS to the coordinator pass, as does everything else (state, CDM, policy, models); and at the coordinator
    for site, stack in sites.items():
        code, report = _doctor(stack)
        checks = _checks(report)
        for name in ("kit", "kit.certificate", "kit.name", "dns", "tcp", "tls", "state", "cdm", "policy"):
            assert checks[name]["status"] == "pass", (site, name, report)
        assert SERVER_HOST in checks["dns"]["measured"], checks["dns"]
        assert code == 0 and report["ok"] is True, (site, report)
    at_coordinator = coord.exec("coordinator", "fednode", "--json", "doctor", timeout=120, check=False)
    report = json.loads(at_coordinator.stdout.strip().splitlines()[-1])
    assert at_coordinator.returncode == 0 and report["side"] == "coordinator", report
    checks = _checks(report)
    assert all(checks[n]["status"] == "pass" for n in ("kit", "admin-kit", "port", "tls")), report
    clock.lap("doctor at both sites and the coordinator: all pass")

    # 3. the study, submitted at the coordinator with the admin kit, is held by both sites
    limits = "/var/lib/fednode/limitations.md"  # the submitter's limitations section of the model card
    coord.exec("coordinator", "sh", "-c", f"printf 'Synthetic notes; not for clinical use.\\n' > {limits}")
    submitted = coord.exec_json(
        "coordinator",
        "study",
        "submit",
        "--limitations",
        limits,
        "--name",
        "ner-e2e",
        "--rounds",
        "1",
        "--model",
        "tiny",
        "--max-examples",
        "40",
        timeout=300,
    )
    job_id, digest = str(submitted["job_id"]), str(submitted["digest"])
    for site, stack in sites.items():
        wait_until(
            lambda s=stack: _site_jobs(s).get(job_id, {}).get("state") == "pending",
            timeout=180,
            what=f"{site} to hold job {job_id} as pending",
        )
        held = _site_jobs(stack)[job_id]
        assert held["digest"] == digest and held["verdict_allowed"] is True, held
    status = coord.exec_json("coordinator", "study", "status", job_id)
    assert status["status"] == "SUBMITTED", status
    clock.lap("study submitted and held at both sites")

    # 4. one approval per site, through the same service the dashboard uses
    for site, stack in sites.items():
        approved = stack.exec_json("site", "approve", job_id, "--reason", "e2e review", "--approver", APPROVER)
        job = approved["job"]
        assert isinstance(job, dict) and job["state"] == "approved", (site, job)

    # 5. it trains and finishes
    _wait_finished(coord, job_id, "job")
    clock.lap("approved, trained, finished")

    # 6. the global model: downloaded and verified in the container, then verified here against a site's pin
    downloaded = coord.exec_json(
        "coordinator", "study", "download", job_id, "--out", "/var/lib/fednode/results", timeout=300
    )
    assert downloaded["job_digest"] == digest
    model_sites = downloaded["sites"]
    assert isinstance(model_sites, list) and sorted(model_sites) == sorted(SITES)
    cid = coord.compose("ps", "-q", "coordinator").stdout.strip()
    local = federation.root / "result"
    model_dir = Path(str(downloaded["model"])).parent
    sh(["docker", "cp", f"{cid}:{model_dir}", str(local)], timeout=120)
    from node.coordinator.signing import verify_signed_model
    from node.kit.layout import COORDINATOR_PUBLIC_KEY

    pinned = (federation.site_kits[SITES[0]] / "local" / COORDINATOR_PUBLIC_KEY).read_text(encoding="ascii")
    verified = verify_signed_model(local, [pinned], expected_job_digest=digest)
    assert sorted(verified.provenance.sites) == sorted(SITES)
    for site, stack in sites.items():
        assert _site_jobs(stack)[job_id]["state"] == "finished", site
    clock.lap("model downloaded and its signature verified")

    # 6b. a researcher's own job folder (BYOC): held, approved, run confined in each site container, signed
    cid = coord.compose("ps", "-q", "coordinator").stdout.strip()
    sh(["docker", "cp", str(REPO / "examples" / "byoc-ner"), f"{cid}:/var/lib/fednode/byoc-ner"], timeout=120)
    byoc = coord.exec_json(
        "coordinator", "study", "submit", "--job-folder", "/var/lib/fednode/byoc-ner", "--model", "tiny", timeout=300
    )
    byoc_id, byoc_digest = str(byoc["job_id"]), str(byoc["digest"])
    for site, stack in sites.items():
        wait_until(
            lambda s=stack: _site_jobs(s).get(byoc_id, {}).get("state") == "pending",
            timeout=180,
            what=f"{site} to hold BYOC job {byoc_id} as pending",
        )
        held = _site_jobs(stack)[byoc_id]
        assert held["digest"] == byoc_digest and held["verdict_allowed"] is True, held
        approved = stack.exec_json("site", "approve", byoc_id, "--reason", "e2e byoc review", "--approver", APPROVER)
        assert approved["job"]["state"] == "approved", (site, approved)

    _wait_finished(coord, byoc_id, "BYOC job")
    byoc_model = coord.exec_json(
        "coordinator", "study", "download", byoc_id, "--out", "/var/lib/fednode/results-byoc", timeout=300
    )
    assert byoc_model["job_digest"] == byoc_digest and sorted(byoc_model["sites"]) == sorted(SITES)
    for site, stack in sites.items():
        assert _site_jobs(stack)[byoc_id]["state"] == "finished", site
        specs = stack.exec("site", "find", "/var/lib/fednode/nvflare", "-name", "spec.json", "-path", f"*{byoc_id}*")
        assert specs.stdout.strip(), f"{site}: the BYOC job ran without a sandbox spec"
        staged = stack.exec("site", "find", "/var/lib/fednode/nvflare", "-name", "train.tsv", "-path", f"*{byoc_id}*")
        assert not staged.stdout.strip(), f"{site}: staged data left behind: {staged.stdout}"
    clock.lap("BYOC job held, approved, run confined, signed")

    # 6c. the coordinator container is killed mid-study, started again, and `study resume` continues the study
    _kill_restart_and_resume(federation, clock)

    # 7. one site goes away; the other restarts and keeps its state (jobs, audit chain) on its named volume
    gone, kept = sites[SITES[1]], sites[SITES[0]]
    gone.stop("site")
    kept.compose("restart", "site", timeout=180)
    wait_until(lambda: _health(kept, "site") == "healthy", timeout=240, what=f"{SITES[0]} healthy after restart")
    after = _site_jobs(kept)[job_id]
    assert after["state"] == "finished" and after["digest"] == digest
    assert after["approvals"][0]["approver"] == APPROVER
    audit = kept.exec_json("site", "audit", "verify")
    assert audit["ok"] is True, audit
    clock.lap("site restarted with its state")

    # 8. the coordinator stops: the site's doctor names the first network step that fails and why, exit 1
    coord.stop("coordinator")
    code, report = _doctor(kept)
    checks = _checks(report)
    assert code == 1 and checks["kit"]["status"] == "pass", report
    down = next(c for c in (checks["dns"], checks["tcp"], checks["tls"]) if c["status"] == "fail")
    if down["name"] == "dns":  # Docker's resolver forgets a stopped container's name
        assert SERVER_HOST in down["measured"], down
        assert "does not resolve" in down["measured"] or "no answer" in down["measured"], down
        assert checks["tcp"]["status"] == "skip", checks["tcp"]
    else:
        assert down["name"] == "tcp" and "refused" in down["measured"], down
    assert down["name"] in report["failed"] and down["remedy"], report
    clock.lap(f"coordinator stopped: the site's doctor fails {down['name']}: {down['measured']}")
