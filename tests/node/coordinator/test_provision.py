"""Provisioning: NVFlare kits with mutual TLS over gRPC, finished for fednode (scheduler, allow-list, site files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fednode.errors import ConfigError
from node.coordinator.provision import FEDNODE_CLASS_PREFIXES, SiteKit, provision_federation, scheduler_args
from node.kit.layout import COORDINATOR_PUBLIC_KEY, load_federation
from policies.keys import load_public_key


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("prov")
    privacy = {"scopes": [{"name": "fednode", "task_result_filters": []}], "default_scope": "fednode"}
    gate = {"id": "fednode_gate", "path": "node.site.gate.ApprovalGate", "args": {}}
    sites = [SiteKit("site-1", "hospital_a", {"privacy.json": privacy}, [gate]), SiteKit("site-2", "hospital_b")]
    return provision_federation(root, sites, fl_port=18802, admin_port=18803, review_window_h=72)


def _json(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())


def test_every_participant_gets_a_mutual_tls_grpc_kit(fed) -> None:  # type: ignore[no-untyped-def]
    server = _json(fed.server_dir / "startup" / "fed_server.json")["servers"][0]
    assert server["service"]["scheme"] == "grpc"
    assert server["connection_security"] == "mtls"
    assert server["service"]["target"] == "localhost:18802"
    for name, kit in fed.site_dirs.items():
        client = _json(kit / "startup" / "fed_client.json")
        assert client["client"]["connection_security"] == "mtls"
        assert client["client"]["fqsn"] == name
        assert (kit / "startup" / "client.key").is_file()
        assert (kit / "startup" / "rootCA.pem").is_file()
    assert (fed.admin_dir / "startup" / "client.crt").is_file()


def test_the_scheduler_keeps_a_held_job_through_the_review_window(fed) -> None:  # type: ignore[no-untyped-def]
    resources = _json(fed.server_dir / "local" / "resources.json")
    comps = {c["id"]: c for c in resources["components"]}
    args = comps["job_scheduler"]["args"]
    assert args["min_schedule_interval"] == 5.0
    assert args["max_schedule_interval"] == 10.0
    # retries at the 10 s ceiling must outlast 72 hours
    assert args["max_schedule_count"] * args["max_schedule_interval"] >= 72 * 3600
    assert comps["job_manager"]["args"]["uri_root"].startswith(str(fed.root))
    allow = resources["class_allow_list"]
    assert set(FEDNODE_CLASS_PREFIXES) <= set(allow)
    assert "node." not in allow  # nothing broader than fednode's NVFlare components
    for path in ("node.coordinator.controller.FednodeController", "node.site.gate.ApprovalGate"):
        assert any(path.startswith(p) for p in allow if p.endswith("."))
    assert resources["class_list_enforcement_mode"] == "enforce"


def test_sites_get_their_policy_files_gate_components_and_the_pinned_coordinator_key(fed) -> None:  # type: ignore[no-untyped-def]
    site1 = fed.site_dirs["site-1"] / "local"
    assert _json(site1 / "privacy.json")["default_scope"] == "fednode"
    comps = {c["id"]: c for c in _json(site1 / "resources.json")["components"]}
    assert comps["fednode_gate"]["path"] == "node.site.gate.ApprovalGate"
    assert "resource_manager" in comps  # NVFlare's own components stay
    assert not (fed.site_dirs["site-2"] / "local" / "privacy.json").exists()
    pems = {(kit / "local" / COORDINATOR_PUBLIC_KEY).read_text() for kit in fed.site_dirs.values()}
    assert len(pems) == 1
    load_public_key(pems.pop())
    assert not any("fednode-keys" in str(p) for p in fed.site_dirs["site-1"].rglob("*"))


def test_the_federation_file_round_trips(fed) -> None:  # type: ignore[no-untyped-def]
    again = load_federation(fed.root)
    assert again == fed


def test_scheduler_count_grows_with_the_window() -> None:
    assert scheduler_args(1)["max_schedule_count"] < scheduler_args(72)["max_schedule_count"]
    with pytest.raises(ConfigError):
        scheduler_args(0)


@pytest.mark.parametrize(
    "sites",
    [[], [SiteKit("Site_1", "a")], [SiteKit("site-1", "a"), SiteKit("site-1", "b")], [SiteKit("site-1", "org-x")]],
)
def test_bad_site_lists_are_refused(tmp_path: Path, sites: list[SiteKit]) -> None:
    with pytest.raises(ConfigError):
        provision_federation(tmp_path, sites)


def test_a_site_file_may_not_escape_local(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        provision_federation(tmp_path, [SiteKit("site-1", "a", {"../startup/x.json": {}})])


def test_the_cli_provisions_and_prints_the_kits(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from node.cli import app

    out = tmp_path / "fed"
    res = CliRunner().invoke(
        app,
        [
            "--home",
            str(tmp_path / "home"),
            "--json",
            "provision",
            "--sites",
            "2",
            "--out",
            str(out),
            "--port",
            "18902",
            "--admin-port",
            "18903",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout.strip().splitlines()[-1])
    assert sorted(payload["site_dirs"]) == ["site-1", "site-2"]
    assert load_federation(out).fl_port == 18902
    bad = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "--json", "provision", "--site", "Bad_Name"])
    assert bad.exit_code == 2


def test_the_admin_port_defaults_to_the_fl_port_so_the_coordinator_opens_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from node.cli import app

    out = tmp_path / "fed"
    args = ["--home", str(tmp_path / "home"), "--json", "provision", "--sites", "1", "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--port", "18912"])
    assert res.exit_code == 0, res.output
    fed = load_federation(out)
    assert fed.fl_port == fed.admin_port == 18912
    server = _json(fed.server_dir / "startup" / "fed_server.json")["servers"][0]
    assert server["admin_port"] == 18912 and server["service"]["target"].endswith(":18912")
    assert _json(fed.admin_dir / "startup" / "fed_admin.json")["admin"]["port"] == 18912
    assert yaml.safe_load((out / "project.yml").read_text())["participants"][0]["admin_port"] == 18912


def test_provisioning_again_is_refused_without_force_and_says_what_would_be_lost(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from node.cli import app

    out = tmp_path / "fed"
    args = ["--home", str(tmp_path / "home"), "--json", "provision", "--sites", "2", "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    fed = load_federation(out)
    ca = (fed.server_dir / "startup" / "rootCA.pem").read_bytes()
    pinned = (fed.site_dirs["site-1"] / "local" / COORDINATOR_PUBLIC_KEY).read_bytes()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2, again.output
    message = json.loads(again.stdout.strip().splitlines()[-1])["message"]
    assert "root CA sha256" in message and "2 site kits" in message and "--force" in message
    assert (fed.server_dir / "startup" / "rootCA.pem").read_bytes() == ca  # nothing was touched
    assert (fed.site_dirs["site-1"] / "local" / COORDINATOR_PUBLIC_KEY).read_bytes() == pinned
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    new = load_federation(out)
    assert (new.server_dir / "startup" / "rootCA.pem").read_bytes() != ca
    assert (new.site_dirs["site-1"] / "local" / COORDINATOR_PUBLIC_KEY).read_bytes() != pinned
    names = sorted(p.name for p in out.iterdir())  # no half-built kit left beside the swapped one
    assert [n for n in names if not n.startswith("coordinator-audit")] == [
        "federation.json",
        "logs",
        "project.yml",
        "workspace",
    ]
    storage = _json(new.server_dir / "local" / "resources.json")
    jobs = next(c for c in storage["components"] if c["id"] == "job_manager")["args"]["uri_root"]
    assert jobs == str(new.server_dir / "storage" / "jobs")  # the kit's final place, not where it was built


def test_a_failed_forced_provisioning_leaves_the_old_federation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import node.coordinator.provision as provision

    fed = provision_federation(tmp_path, [SiteKit("site-1", "a")], fl_port=18822)
    ca = (fed.server_dir / "startup" / "rootCA.pem").read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise ConfigError("site site-1: refusing to write local file")

    monkeypatch.setattr(provision, "_finish_site", broken)
    with pytest.raises(ConfigError):
        provision_federation(tmp_path, [SiteKit("site-1", "a")], fl_port=18822, force=True)
    assert (fed.server_dir / "startup" / "rootCA.pem").read_bytes() == ca
    assert sorted(p.name for p in tmp_path.iterdir()) == ["federation.json", "project.yml", "workspace"]


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_a_port_outside_1_to_65535_is_a_usage_error_naming_it(tmp_path: Path, port: str) -> None:
    from typer.testing import CliRunner

    from node.cli import app

    out = tmp_path / "fed"
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "provision", "--out", str(out), "--port", port])
    assert res.exit_code == 2, res.output
    assert "--port" in res.output and "Traceback" not in res.output
    assert not out.exists()
    with pytest.raises(ConfigError, match="--port"):
        provision_federation(out, [SiteKit("site-1", "a")], fl_port=int(port))
    assert not out.exists()


def test_a_failed_first_provisioning_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import node.coordinator.provision as provision

    def broken(*args: object, **kwargs: object) -> None:
        raise ConfigError("site site-1: refusing to write local file")

    monkeypatch.setattr(provision, "_finish_site", broken)
    with pytest.raises(ConfigError):
        provision_federation(tmp_path / "fed", [SiteKit("site-1", "a")], fl_port=18832)
    assert not (tmp_path / "fed").exists()


def test_a_site_key_given_at_provisioning_is_pinned_at_the_coordinator_and_in_the_sites_kit(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from node.cli import app
    from node.coordinator.anchors import pinned_site_keys
    from node.kit.layout import SITE_KEYS_DIR, SITE_PUBLIC_KEY
    from policies.keys import SiteKey, key_id

    site_key = SiteKey.generate()
    pub = tmp_path / "site-1.pub"
    pub.write_text(site_key.public_pem, encoding="ascii")
    out = tmp_path / "fed"
    args = ["--home", str(tmp_path / "home"), "--json", "provision", "--sites", "2", "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--port", "18912", "--site-key", f"site-1={pub}"])
    assert res.exit_code == 0, res.output
    fed = load_federation(out)
    pinned = pinned_site_keys(fed.server_dir)
    assert {s: key_id(k) for s, k in pinned.items()} == {"site-1": site_key.key_id}  # site-2 gave none
    assert (fed.site_dirs["site-1"] / "local" / SITE_PUBLIC_KEY).read_text() == site_key.public_pem
    assert not (fed.site_dirs["site-2"] / "local" / SITE_PUBLIC_KEY).exists()
    assert not (fed.site_dirs["site-1"] / SITE_KEYS_DIR).exists()  # a site's kit holds no other site's key
    # an unknown site or an unreadable key is refused before anything is written
    other = tmp_path / "fed2"
    unknown = CliRunner().invoke(app, [*args[:-1], str(other), "--site-key", f"site-9={pub}"])
    assert unknown.exit_code == 2 and "site-9" in unknown.output
    missing = CliRunner().invoke(app, [*args[:-1], str(other), "--site-key", f"site-1={tmp_path / 'no.pub'}"])
    assert missing.exit_code == 4 and "--site-key site-1" in missing.output
    assert not other.exists()
