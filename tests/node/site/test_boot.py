"""Site boot: the policy compiled into a staged kit and checked, the site key installed; the coordinator's
storage kept on the state volume and its admin federation described for `fednode study` in the container."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fednode.errors import ConfigError, PolicyFileError
from fednode.settings import load_settings
from node.coordinator.provision import SiteKit, provision_federation
from node.kit.layout import load_federation
from node.kit.runtime import server_storage_overlay, stage_kit, write_admin_federation
from node.local.demo import site_policy
from node.site.boot import install_site_key, policy_overlay, prepare_site


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("prov")
    fed = provision_federation(
        root,
        [SiteKit("site-1", "site_1"), SiteKit("site-2", "site_2")],
        server_host="coordinator",
        fl_port=8002,
        admin_port=8002,
    )
    yield {"server": fed.server_dir, "admin": fed.admin_dir, "site-1": fed.site_dirs["site-1"]}


def _write_policy(home: Path, **changes: Any) -> Path:
    policy = site_policy("site-1", sites=2, min_records=10)
    policy["participants"]["coordinators"] = [{"name": "coordinator", "org": "coordinator"}]
    policy["privacy"].update(changes)
    path = home / "policy.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    return path


def test_the_policy_is_compiled_into_the_staged_kit_and_validated(kits: dict[str, Path], tmp_path: Path) -> None:
    _write_policy(tmp_path)
    settings = load_settings(home=tmp_path, site_name="site-1")
    staged = stage_kit(kits["site-1"], settings, overlay=policy_overlay(settings))
    local = staged.kit / "local"
    resources = json.loads((local / "resources.json").read_text())
    assert resources["app_validator"] == {"path": "node.site.gate.DigestValidator", "args": {}}
    assert "fednode_approval_gate" in {c["id"] for c in resources["components"]}
    assert resources["allow_log_streaming"] is False
    privacy = json.loads((local / "privacy.json").read_text())
    assert privacy["scopes"] and privacy["scopes"][0]["task_result_filters"]
    assert (local / "authorization.json").is_file()
    # the provisioned kit itself is untouched (it is a read-only secret in the container)
    assert not (kits["site-1"] / "local" / "privacy.json").exists()


def test_a_broken_policy_stops_the_boot_naming_the_entry(kits: dict[str, Path], tmp_path: Path) -> None:
    _write_policy(tmp_path, result_filters=[{"kind": "norm_clip"}])  # norm_clip without its max_norm
    settings = load_settings(home=tmp_path, site_name="site-1")
    with pytest.raises(PolicyFileError, match="norm_clip needs max_norm"):
        stage_kit(kits["site-1"], settings, overlay=policy_overlay(settings))


def test_without_a_policy_a_kit_lacking_the_gate_is_refused(kits: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, site_name="site-1")
    with pytest.raises(ConfigError, match="no approval gate"):
        stage_kit(kits["site-1"], settings, overlay=policy_overlay(settings))


def test_prepare_site_runs_the_whole_boot_sequence(kits: dict[str, Path], tmp_path: Path) -> None:
    """`fednode site start` before FLARE: key and TOTP secrets installed, state.db created, the kit staged."""
    home = tmp_path / "home"
    home.mkdir()
    _write_policy(home)
    settings = load_settings(home=home, site_name="site-1")
    secret = tmp_path / "site_key"
    secret.write_bytes(_key_pem(Ed25519PrivateKey.generate()))
    totp = tmp_path / "totp_secrets"
    totp.write_text('"dr.hansen" = "QNP2PYXU53EVN244CYU6VJUMATSJ43NL"\n')
    staged = prepare_site(settings, kit=kits["site-1"], site_key=secret, totp_secrets=totp)
    assert settings.state_db_path.is_file()  # the health check reads it before FLARE starts
    assert (settings.keys_dir / "site.ed25519.pem").is_file()
    assert any((settings.keys_dir / "totp").iterdir())
    assert (staged.kit / "local" / "privacy.json").is_file()  # the compiled policy is laid over the kit


def test_the_boot_creates_the_site_key_and_state_when_no_key_secret_is_mounted(
    kits: dict[str, Path], tmp_path: Path
) -> None:
    """Key creation is explicit: `fednode site init` or this boot sequence (read-only commands create nothing)."""
    home = tmp_path / "home"
    home.mkdir()
    _write_policy(home)
    settings = load_settings(home=home, site_name="site-1")
    prepare_site(settings, kit=kits["site-1"], site_key=tmp_path / "absent", totp_secrets=tmp_path / "absent")
    assert settings.state_db_path.is_file()
    assert (settings.keys_dir / "site.ed25519.pem").is_file() and (settings.keys_dir / "site.ed25519.pub").is_file()


def _key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_the_site_key_secret_is_installed_once_and_never_silently_replaced(tmp_path: Path) -> None:
    secret, target = tmp_path / "site_key", tmp_path / "home" / "keys" / "site.ed25519.pem"
    key = Ed25519PrivateKey.generate()
    secret.write_bytes(_key_pem(key))
    assert install_site_key(secret, target) is True
    assert target.stat().st_mode & 0o777 == 0o600
    assert install_site_key(secret, target) is False  # same key: a restart is a no-op
    secret.write_bytes(_key_pem(Ed25519PrivateKey.generate()))
    with pytest.raises(ConfigError, match="differs from the site key already in use"):
        install_site_key(secret, target)


def test_an_empty_or_foreign_key_secret(tmp_path: Path) -> None:
    secret, target = tmp_path / "site_key", tmp_path / "keys" / "site.ed25519.pem"
    secret.write_bytes(b"")
    assert install_site_key(secret, target) is False and not target.exists()
    secret.write_text("not a key")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        install_site_key(secret, target)


def test_the_coordinator_keeps_jobs_and_snapshots_on_the_state_volume(kits: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    staged = stage_kit(kits["server"], settings, overlay=server_storage_overlay(settings.nvflare_workspace))
    text = (staged.kit / "local" / "resources.json").read_text()
    resources = json.loads(text)
    (manager,) = [c for c in resources["components"] if c["id"] == "job_manager"]
    assert manager["args"]["uri_root"] == str(tmp_path / "nvflare" / "storage" / "jobs")
    snapshots = resources["snapshot_persistor"]["args"]["storage"]["args"]["root_dir"]
    assert snapshots == str(tmp_path / "nvflare" / "storage" / "snapshots")
    assert str(kits["server"].parent) not in text  # no path of the provisioning host is left


def test_the_admin_federation_names_the_staged_kits_and_the_pinned_key(kits: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    staged = stage_kit(kits["server"], settings)
    root = write_admin_federation(settings, staged.kit, kits["admin"], ["site-1", "site-2"])
    assert root == tmp_path / "federation" == settings.federation_dir
    fed = load_federation(root)
    assert (fed.server_name, fed.fl_port, fed.admin_port) == ("coordinator", 8002, 8002)
    assert fed.admin_dir == root / "admin" and (fed.admin_dir / "startup" / "fed_admin.json").is_file()
    assert set(fed.site_dirs) == {"site-1", "site-2"}
    pinned_at_site = (kits["site-1"] / "local" / "coordinator.pub").read_text()
    from node.coordinator.study import StudyClient

    assert StudyClient(fed).trusted_key() == pinned_at_site
    with pytest.raises(ConfigError, match="FEDNODE_SITES"):
        write_admin_federation(settings, staged.kit, kits["admin"], [])


def test_coordinator_start_runs_flare_with_the_client_outcome_wait_set(
    kits: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fednode coordinator start` (the image's command) sets NVFLARE_CLIENT_OUTCOME_WAIT_TIMEOUT unless the operator
    did: NVFlare's 900 s default keeps a finished job RUNNING for 15 minutes after a site dropped out."""
    from typer.testing import CliRunner

    from node.cli import app
    from node.kit.runtime import CLIENT_OUTCOME_WAIT_ENV

    started: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr("node.kit.runtime.os.execve", lambda path, _argv, env: started.append((path, dict(env))))
    monkeypatch.delenv(CLIENT_OUTCOME_WAIT_ENV, raising=False)
    argv = ["--home", str(tmp_path), "coordinator", "start", "--kit", str(kits["server"])]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert started[-1][1][CLIENT_OUTCOME_WAIT_ENV] == "30"
    assert started[-1][1]["NVFL_WORKSPACE"] == str(tmp_path / "nvflare")

    monkeypatch.setenv(CLIENT_OUTCOME_WAIT_ENV, "120")
    assert CliRunner().invoke(app, argv).exit_code == 0
    assert started[-1][1][CLIENT_OUTCOME_WAIT_ENV] == "120"  # the operator's own value wins


def test_the_boot_refuses_a_site_key_other_than_the_kits_pinned_one(kits: dict[str, Path], tmp_path: Path) -> None:
    """`fednode provision --site-key` pins the site's public key in its kit (local/site.pub); the coordinator
    anchors the site's audit heads with it, so a site signing with another key must not start."""
    import shutil

    from fednode.errors import ConfigError
    from node.kit.layout import SITE_PUBLIC_KEY
    from policies.keys import public_key_pem

    pinned = Ed25519PrivateKey.generate()
    kit = tmp_path / "kit"
    shutil.copytree(kits["site-1"], kit)
    (kit / "local" / SITE_PUBLIC_KEY).write_text(public_key_pem(pinned.public_key()), encoding="ascii")
    for name, key in (("other", Ed25519PrivateKey.generate()), ("pinned", pinned)):
        home = tmp_path / name
        home.mkdir()
        _write_policy(home)
        secret = tmp_path / f"{name}.key"
        secret.write_bytes(_key_pem(key))
        settings = load_settings(home=home, site_name="site-1")
        if name == "other":
            with pytest.raises(ConfigError, match="the kit pins site key"):
                prepare_site(settings, kit=kit, site_key=secret, totp_secrets=tmp_path / "absent")
            assert not settings.staged_kit_dir.exists()
        else:
            staged = prepare_site(settings, kit=kit, site_key=secret, totp_secrets=tmp_path / "absent")
            assert (staged.kit / "local" / SITE_PUBLIC_KEY).is_file()  # what `audit verify` pins the chain to
