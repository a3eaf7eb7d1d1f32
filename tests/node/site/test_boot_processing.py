"""The boot's record of processing (issue 14): the site key created or installed, approvers' TOTP secrets installed,
the policy loaded and compiled (with its digest) are in the site's audit log after `fednode site start`'s
preparation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fednode.settings import Settings, load_settings
from node.coordinator.provision import SiteKit, provision_federation
from node.local.demo import site_policy
from node.site.boot import BOOT_ACTOR, prepare_site
from policies.policy_model import load_policy, policy_digest
from policies.state_db import open_state_db


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    fed = provision_federation(
        tmp_path_factory.mktemp("prov"), [SiteKit("site-1", "site_1")], server_host="coordinator", fl_port=8002
    )
    yield fed.site_dirs["site-1"]


def _home(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    policy = site_policy("site-1", sites=1, min_records=10)
    policy["participants"]["coordinators"] = [{"name": "coordinator", "org": "coordinator"}]
    (home / "policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    return load_settings(home=home, site_name="site-1")


def _events(settings: Settings) -> list[tuple[str, str, dict[str, object]]]:
    db = open_state_db(settings, create=False)
    try:
        return [(r.event, r.actor, dict(r.details)) for r in db.audit.records()]
    finally:
        db.close()


def test_the_boot_records_the_key_it_installs_and_the_policy_it_loads_and_compiles(kit: Path, tmp_path: Path) -> None:
    settings = _home(tmp_path)
    secret = tmp_path / "site_key"
    secret.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    totp = tmp_path / "totp_secrets"
    totp.write_text('"dr.hansen" = "QNP2PYXU53EVN244CYU6VJUMATSJ43NL"\n')
    prepare_site(settings, kit=kit, site_key=secret, totp_secrets=totp)
    digest = policy_digest(load_policy(settings.policy_path))
    events = _events(settings)
    assert [e for e, _, _ in events] == ["key:installed", "approver:enrolled", "policy:loaded", "policy:compiled"]
    assert all(actor == BOOT_ACTOR for _, actor, _ in events)
    assert events[1][2] == {"factor": "totp", "installed": 1, "source": "secret"}
    assert events[2][2]["policy_digest"] == events[3][2]["policy_digest"] == digest
    assert "QNP2PYXU53EVN244CYU6VJUMATSJ43NL" not in str(events)
    prepare_site(settings, kit=kit, site_key=secret, totp_secrets=totp)  # a restart: no new key, no new secret
    assert [e for e, _, _ in _events(settings)][4:] == ["policy:loaded", "policy:compiled"]


def test_a_boot_without_a_key_secret_records_the_key_it_creates(kit: Path, tmp_path: Path) -> None:
    settings = _home(tmp_path)
    prepare_site(settings, kit=kit, site_key=tmp_path / "absent", totp_secrets=tmp_path / "absent")
    events = _events(settings)
    assert [e for e, _, _ in events] == ["key:created", "policy:loaded", "policy:compiled"]
    assert events[0][2]["state_db_created"] is True and events[0][2]["key_id"]
