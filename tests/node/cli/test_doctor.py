"""`fednode doctor` from the command line: read-only, --json for monitoring, exit 1 naming the failed checks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from node.cli.main import app
from omop_etl.cdm import create_cdm
from omop_etl.db import make_engine
from tests.node.doctor_pki import (
    Issued,
    free_port,
    issue,
    make_ca,
    tls_server,
    write_admin_kit,
    write_server_kit,
    write_site_kit,
)

EXAMPLE_POLICY = Path(__file__).resolve().parents[3] / "policies" / "examples" / "site-policy.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("FEDNODE_STARTUP_KIT", "FEDNODE_ADMIN_KIT", "FEDNODE_SITES", "FEDNODE_CONFIG"):
        monkeypatch.delenv(key, raising=False)


def _snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_doctor_on_an_empty_home_creates_nothing_and_names_what_failed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(
        app, ["doctor", "--kit", str(tmp_path / "kit"), "--json"], env={"FEDNODE_HOME": str(home), "COLUMNS": "80"}
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["side"] == "site" and payload["exit_code"] == 1
    assert {"kit", "state", "cdm"} <= set(payload["failed"])
    by_name = {c["name"]: c for c in payload["checks"]}
    assert by_name["state"]["measured"] == f"no state.db in {home}: this home holds no site"
    assert by_name["tls"]["status"] == "skip"
    assert "Error: doctor:" in result.stderr and "kit" in result.stderr
    assert _snapshot(tmp_path) == before and not home.exists()


def test_human_output_shows_each_check_and_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["doctor", "--kit", str(tmp_path / "kit")], env={"FEDNODE_HOME": str(tmp_path / "h"), "COLUMNS": "80"}
    )
    assert result.exit_code == 1
    assert "FAIL kit: no startup kit at" in result.stdout and "what to do:" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca()


def _coordinator(tmp: Path, ca: Issued, port: int, server: Issued | None = None) -> list[str]:
    server = server or issue(ca, "localhost", server=True)
    kit = write_server_kit(tmp / "server", ca, server, f"localhost:{port}")
    admin = write_admin_kit(tmp / "admin", ca, issue(ca, "admin@coordinator.example"))
    return ["doctor", "--coordinator", "--kit", str(kit), "--admin-kit", str(admin), "--sites", "site-a,site-b"]


def test_a_healthy_coordinator_exits_0_with_each_sites_last_contact(tmp_path: Path, ca: Issued) -> None:
    home = tmp_path / "home"
    run = home / "nvflare" / "job-1"
    run.mkdir(parents=True)
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()  # not NOW: that is fixed when the module is imported
    (run / "rounds.jsonl").write_text(json.dumps({"round": 3, "sites": ["site-a"], "at": at}) + "\n", "utf-8")
    server = issue(ca, "localhost", server=True)
    with tls_server(tmp_path, server, trusts=ca) as port:
        args = _coordinator(tmp_path, ca, port, server)
        result = CliRunner().invoke(app, [*args, "--json"], env={"FEDNODE_HOME": str(home)})
    payload = json.loads(result.stdout)
    assert result.exit_code == 0, payload
    status = {c["name"]: c["status"] for c in payload["checks"]}
    for name in ("kit", "kit.certificate", "kit.name", "admin-kit", "admin-kit.certificate", "port", "tls"):
        assert status[name] == "pass", payload
    contact = {c["name"]: c for c in payload["checks"] if c["name"].startswith("contact.")}
    assert contact["contact.site-a"]["status"] == "pass"
    assert re.search(r"\(2\.\d h ago, a result in job-1 round 3\)", contact["contact.site-a"]["measured"])
    assert contact["contact.site-b"]["status"] == "warn" and "never" in contact["contact.site-b"]["measured"]


def test_a_coordinator_whose_port_is_not_bound(tmp_path: Path, ca: Issued) -> None:
    port = free_port()
    result = CliRunner().invoke(app, [*_coordinator(tmp_path, ca, port), "--json"], env={"FEDNODE_HOME": str(tmp_path)})
    payload = json.loads(result.stdout)
    assert result.exit_code == 1 and payload["failed"] == ["port"]
    check = next(c for c in payload["checks"] if c["name"] == "port")
    assert f"127.0.0.1:{port} refused" in check["measured"] and "FLARE server is not running" in check["remedy"]


def test_an_admin_kit_of_another_provisioning(tmp_path: Path, ca: Issued) -> None:
    args = _coordinator(tmp_path, ca, free_port())
    other = make_ca("another-project")
    write_admin_kit(tmp_path / "admin2", other, issue(other, "admin@coordinator.example"))
    args[args.index("--admin-kit") + 1] = str(tmp_path / "admin2")
    result = CliRunner().invoke(app, [*args, "--json"], env={"FEDNODE_HOME": str(tmp_path)})
    payload = json.loads(result.stdout)
    assert "admin-kit.provisioning" in payload["failed"]


def test_the_troubleshooting_section_covers_every_check() -> None:
    """docs/deployment.md's troubleshooting tables are keyed by the checks' names: a new check needs its row."""
    from node.site.doctor import SITE_CHECKS

    docs = (Path(__file__).resolve().parents[3] / "docs" / "deployment.md").read_text(encoding="utf-8")
    section = docs[docs.index("## 9. Troubleshooting with `fednode doctor`") :]
    coordinator = ("admin-kit", "admin-kit.certificate", "admin-kit.provisioning", "port", "contact.<site>")
    missing = [name for name in (*SITE_CHECKS, *coordinator) if f"`{name}`" not in section]
    assert not missing, f"add a troubleshooting row for: {', '.join(missing)}"


def test_a_set_up_site_that_reaches_its_coordinator_exits_0(tmp_path: Path, ca: Issued) -> None:
    """A site after `fednode site init`, with a CDM, its policy and its kit, and a coordinator that answers."""
    home = tmp_path / "home"
    doc = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    doc["site"]["name"] = "site-a"
    doc["participants"]["coordinators"] = [{"name": "localhost", "org": "fednode-test"}]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc), encoding="utf-8")
    env = {"FEDNODE_HOME": str(home), "FEDNODE_POLICY__POLICY_FILE": str(policy), "COLUMNS": "80"}
    assert CliRunner().invoke(app, ["site", "init"], env=env).exit_code == 0
    engine = make_engine(f"sqlite:///{home / 'omop.db'}")
    create_cdm(engine)
    engine.dispose()
    server = issue(ca, "localhost", server=True)
    with tls_server(tmp_path, server, trusts=ca) as port:
        kit = write_site_kit(tmp_path / "kit", ca, issue(ca, "site-a"), f"localhost:{port}")
        before = _snapshot(tmp_path)
        result = CliRunner().invoke(app, ["doctor", "--kit", str(kit), "--json"], env=env)
        after = _snapshot(tmp_path)
    payload = json.loads(result.stdout)
    assert result.exit_code == 0 and payload["ok"] is True and payload["failed"] == [], payload
    status = {c["name"]: c["status"] for c in payload["checks"]}
    assert status["tls"] == status["state"] == status["kit.name"] == status["policy.coordinator"] == "pass"
    assert status["cdm"] == "warn"  # no notes loaded yet: a warning, not a failure
    assert after == before  # read-only: not even a -wal or -shm file beside state.db


def test_the_coordinators_image_checks_the_coordinators_side(tmp_path: Path) -> None:
    env = {"FEDNODE_HOME": str(tmp_path / "home"), "FEDNODE_ROLE": "coordinator"}
    result = CliRunner().invoke(app, ["doctor", "--kit", str(tmp_path / "nokit"), "--json"], env=env)
    payload = json.loads(result.stdout)
    assert result.exit_code == 1 and payload["side"] == "coordinator" and payload["failed"] == ["kit"]


def test_compose_runs_the_doctor_as_documented() -> None:
    """`docker compose -f compose/site.yml run --rm site fednode doctor` reaches the CLI with the kit mounted where
    the doctor looks (no entrypoint wraps the command), and `exec coordinator fednode doctor` checks that side."""
    from node.cli.commands_doctor import DEFAULT_SERVER_KIT, DEFAULT_SITE_KIT

    root = Path(__file__).resolve().parents[3]
    site = yaml.safe_load((root / "compose" / "site.yml").read_text(encoding="utf-8"))["services"]["site"]
    assert "entrypoint" not in site and "startup_kit" in site["secrets"]
    assert site["environment"]["FEDNODE_STARTUP_KIT"] == str(DEFAULT_SITE_KIT)
    coordinator = yaml.safe_load((root / "compose" / "coordinator.yml").read_text(encoding="utf-8"))
    env = coordinator["services"]["coordinator"]["environment"]
    assert env["FEDNODE_STARTUP_KIT"] == str(DEFAULT_SERVER_KIT) and "FEDNODE_ADMIN_KIT" in env
    for image in ("site", "coordinator"):
        dockerfile = (root / "images" / image / "Dockerfile").read_text(encoding="utf-8")
        assert "\nENTRYPOINT" not in dockerfile
    assert "FEDNODE_ROLE=coordinator" in (root / "images" / "coordinator" / "Dockerfile").read_text(encoding="utf-8")
