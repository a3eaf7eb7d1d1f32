"""The coordinator in a real local federation (processes, gRPC with mutual TLS): exact FedAvg, the signed model,
and the quorum when a site process is killed mid-run and rejoins later.

The sites run ``tests.node.coordinator.flare_fixtures.ShiftExecutor`` (no data, no gate) so the expected weights are
known.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from node.coordinator.launcher import LocalFederation, free_port
from node.coordinator.model import build_initial_state
from node.coordinator.provision import SiteKit, provision_federation
from node.coordinator.signing import verify_signed_model
from node.coordinator.study import APP_NAME, StudyClient, StudySpec, build_job, read_rounds
from policies.manifest import embed_manifest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SITES = ("site-1", "site-2", "site-3")
SHIFTS = {"site-1": 0.01, "site-2": 0.02, "site-3": 0.03}
EXAMPLES = {"site-1": 10, "site-2": 20, "site-3": 30}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    root = tmp_path_factory.mktemp("fed")
    fed = provision_federation(
        root,
        [SiteKit(s, s.replace("-", "_")) for s in SITES],
        fl_port=free_port(),
        admin_port=free_port(),
        extra_class_prefixes=("tests.node.",),
    )
    with LocalFederation(fed, env={"HOME": str(root)}) as lf:
        lf.start(timeout_s=180)
        yield lf


def _job(root: Path, spec: StudySpec, executor_args: dict[str, object]) -> Path:
    # the shift executor answers training only: no cross-site `validate` task (a site that does not know a task
    # answers TASK_UNKNOWN, which NVFlare treats as fatal)
    job, _ = build_job(replace(spec, cross_site=False), root)
    cfg = job / APP_NAME / "config" / "config_fed_client.json"
    data = json.loads(cfg.read_text())
    shift = "tests.node.coordinator.flare_fixtures.ShiftExecutor"
    data["executors"][0]["executor"] = {"path": shift, "args": executor_args}
    cfg.write_text(json.dumps(data))
    embed_manifest(job)
    return job


def test_fedavg_over_three_sites_gives_the_example_weighted_mean_and_a_signed_model(
    federation: LocalFederation, tmp_path: Path
) -> None:
    spec = StudySpec(name="fedavg", sites=SITES, rounds=2, model_spec="tiny", wait_after_min_s=2)
    job = _job(tmp_path, spec, {"shifts": SHIFTS, "examples": EXAMPLES})
    client = StudyClient(federation.federation)
    job_id = client.submit(job)
    status = client.wait(job_id, timeout_s=240)
    assert status.status == "FINISHED:COMPLETED"
    folder = client.download(job_id, tmp_path / "out")
    verified = verify_signed_model(folder, [client.trusted_key()])
    assert verified.provenance.sites == SITES
    assert [r.sites for r in verified.provenance.rounds] == [SITES, SITES]
    expected = 2 * sum(SHIFTS[s] * EXAMPLES[s] for s in SITES) / sum(EXAMPLES.values())
    final = load_file(str(verified.model_path))
    initial = build_initial_state("tiny")
    delta = final["classifier.weight"] - initial["classifier.weight"]
    assert torch.allclose(delta, torch.full_like(delta, expected), atol=1e-5)
    rounds = read_rounds(folder)
    assert rounds[0]["weights"] == pytest.approx({s: EXAMPLES[s] / 60 for s in SITES})


def test_a_site_killed_mid_run_does_not_stall_the_quorum_and_rejoins_later(
    federation: LocalFederation, tmp_path: Path
) -> None:
    spec = StudySpec(name="quorum", sites=SITES, rounds=2, min_clients=2, model_spec="tiny", wait_after_min_s=5)
    job = _job(tmp_path, spec, {"shifts": SHIFTS, "examples": EXAMPLES, "delays": {"site-3": 120.0}})
    client = StudyClient(federation.federation)
    job_id = client.submit(job)
    client.wait(job_id, until=lambda s: s.status == "RUNNING", timeout_s=120, poll_s=1)
    time.sleep(4)  # site-3 has its round-0 task and sleeps on it
    federation.participants["site-3"].kill()
    status = client.wait(job_id, timeout_s=240)
    assert status.status == "FINISHED:COMPLETED"
    folder = client.download(job_id, tmp_path / "out")
    rounds = read_rounds(folder)
    assert [r["sites"] for r in rounds] == [["site-1", "site-2"], ["site-1", "site-2"]]
    assert "site-3" in rounds[0]["missing"]
    verify_signed_model(folder, [client.trusted_key()])

    # the site comes back and takes part in the next study
    federation.start_site("site-3")
    federation.wait_for_sites(list(SITES), timeout_s=120)
    again = _job(
        tmp_path / "again",
        StudySpec(name="rejoin", sites=SITES, rounds=1, model_spec="tiny", wait_after_min_s=2),
        {"shifts": SHIFTS, "examples": EXAMPLES},
    )
    job2 = client.submit(again)
    assert client.wait(job2, timeout_s=240).status == "FINISHED:COMPLETED"
    assert read_rounds(client.download(job2, tmp_path / "out2"))[0]["sites"] == list(SITES)
