"""The signed global model: a site accepts it only with a trusted signature, intact weights and its own digest; the
sites' signed approval receipts in its provenance verify against each site's own key."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fednode.errors import SignatureError
from node.coordinator.signing import (
    MODEL_FILE,
    PROVENANCE_FILE,
    SIGNATURE_FILE,
    Provenance,
    RoundRecord,
    sha256_file,
    sign_model,
    verify_signed_model,
)
from policies.keys import SiteKey
from policies.receipts import issue_receipt
from tests.policies.statekit import ALLOW as STATE_ALLOW
from tests.policies.statekit import make_site, manifest

DIGEST = "a" * 64


def _signed(tmp_path: Path, key: SiteKey) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    save_file({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, str(folder / MODEL_FILE))
    prov = Provenance(
        job_id="job-1",
        job_digest=DIGEST,
        study="ner",
        algorithm="fedavg",
        rounds=(RoundRecord(0, ("site-1", "site-2"), {"site-1": 0.5, "site-2": 0.5}, (), (), {"site-1": {"f1": 0.5}}),),
        sites=("site-1", "site-2"),
        approvals={"site-1": {"evidence": "accepted_for_deploy"}},
        model_sha256=sha256_file(folder / MODEL_FILE),
        created_at="2026-01-01T00:00:00+00:00",
    )
    sign_model(folder, prov, key)
    return folder


def test_a_signed_model_verifies_with_the_pinned_key(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed(tmp_path, key)
    verified = verify_signed_model(folder, [key.public_pem], expected_job_digest=DIGEST)
    assert verified.key_id == key.key_id
    assert verified.provenance.rounds[0].sites == ("site-1", "site-2")
    assert verified.provenance.rounds[0].metrics["site-1"]["f1"] == 0.5


def test_changed_weights_are_refused(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed(tmp_path, key)
    save_file({"w": torch.zeros(2, 3)}, str(folder / MODEL_FILE))
    with pytest.raises(SignatureError, match="weights do not match"):
        verify_signed_model(folder, [key.public_pem])


def test_edited_provenance_is_refused(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed(tmp_path, key)
    data = json.loads((folder / PROVENANCE_FILE).read_text())
    data["sites"] = ["site-1", "site-2", "site-evil"]
    (folder / PROVENANCE_FILE).write_text(json.dumps(data))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signed_model(folder, [key.public_pem])


def test_a_key_the_site_does_not_trust_is_refused_even_if_embedded(tmp_path: Path) -> None:
    signer = SiteKey.generate()
    folder = _signed(tmp_path, signer)
    assert json.loads((folder / SIGNATURE_FILE).read_text())["public_key"] == signer.public_pem
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signed_model(folder, [SiteKey.generate().public_pem])
    with pytest.raises(SignatureError, match="no trusted"):
        verify_signed_model(folder, [])


def test_a_model_from_another_job_digest_is_refused(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed(tmp_path, key)
    with pytest.raises(SignatureError, match="did not approve"):
        verify_signed_model(folder, [key.public_pem], expected_job_digest="b" * 64)


def test_an_unsigned_model_is_refused(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed(tmp_path, key)
    (folder / SIGNATURE_FILE).unlink()
    with pytest.raises(SignatureError, match="not signed"):
        verify_signed_model(folder, [key.public_pem])


def test_signing_refuses_a_provenance_that_names_other_weights(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed(tmp_path, key)
    prov = Provenance.from_json(json.loads((folder / PROVENANCE_FILE).read_text()))
    save_file({"w": torch.ones(1)}, str(folder / MODEL_FILE))
    with pytest.raises(SignatureError, match="do not match"):
        sign_model(folder, prov, key)


def _signed_with_receipt(tmp_path: Path, coordinator: SiteKey, site_key: SiteKey, digest: str = DIGEST) -> Path:
    """A signed model whose provenance holds site-1's signed approval receipt for job-1 and ``digest``."""
    registry = make_site(tmp_path / "site-1.db", key=site_key)
    registry.jobs.register_pending(manifest("job-1", digest=digest), STATE_ALLOW)
    registry.jobs.approve("job-1", "dr.hansen", "reviewed")
    receipt = issue_receipt(registry.jobs.get("job-1"), site="site-1", key=site_key)
    folder = _signed(tmp_path, coordinator)
    prov = Provenance.from_json(json.loads((folder / PROVENANCE_FILE).read_text()))
    approvals = {
        "site-1": {"evidence": "signed_receipt", "receipt": receipt.to_json()},
        "site-2": {"evidence": "accepted_for_deploy"},
    }
    sign_model(folder, replace(prov, approvals=approvals), coordinator)
    return folder


def test_a_sites_receipt_in_the_provenance_verifies_with_its_own_key(tmp_path: Path) -> None:
    coordinator, site_key = SiteKey.generate(), SiteKey.generate()
    folder = _signed_with_receipt(tmp_path, coordinator, site_key)
    plain = verify_signed_model(folder, [coordinator.public_pem])
    assert plain.receipts == ("site-1",) and plain.receipts_verified == ()
    checked = verify_signed_model(folder, [coordinator.public_pem], site_keys={"site-1": site_key.public_pem})
    assert checked.receipts_verified == ("site-1",)
    # a key for a site that sent no receipt checks nothing (the model still reports whose receipts it holds)
    assert (
        verify_signed_model(
            folder, [coordinator.public_pem], site_keys={"site-2": site_key.public_pem}
        ).receipts_verified
        == ()
    )
    with pytest.raises(SignatureError, match="site-1's approval receipt"):
        verify_signed_model(folder, [coordinator.public_pem], site_keys={"site-1": SiteKey.generate().public_pem})


def test_a_receipt_for_other_bytes_is_refused(tmp_path: Path) -> None:
    coordinator, site_key = SiteKey.generate(), SiteKey.generate()
    folder = _signed_with_receipt(tmp_path, coordinator, site_key, digest="b" * 64)
    with pytest.raises(SignatureError, match="another job digest"):
        verify_signed_model(folder, [coordinator.public_pem], site_keys={"site-1": site_key.public_pem})


def test_a_model_signed_before_audit_heads_existed_still_verifies(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed(tmp_path, key)
    data = json.loads((folder / PROVENANCE_FILE).read_text())
    del data["audit_heads"]  # an older provenance.json has no such field
    (folder / PROVENANCE_FILE).write_text(json.dumps(data))
    assert verify_signed_model(folder, [key.public_pem]).provenance.audit_heads == {}


def test_the_sites_audit_heads_in_the_provenance_are_signed(tmp_path: Path) -> None:
    from policies.anchors import Anchor, countersign
    from policies.audit import SignedHead, find_heads

    coordinator, site_key = SiteKey.generate(), SiteKey.generate()
    head = SignedHead.sign(site_key, site="site-1", seq=7, hash_="c" * 64, at="2026-12-05T10:00:00.000000+00:00")
    anchor = countersign(head, coordinator, at="2026-12-05T10:00:01.000000+00:00")
    folder = _signed(tmp_path, coordinator)
    data = json.loads((folder / PROVENANCE_FILE).read_text())
    prov = replace(Provenance.from_json(data), audit_heads={"site-1": anchor.to_json()})
    sign_model(folder, prov, coordinator)
    verified = verify_signed_model(folder, [coordinator.public_pem])
    assert Anchor.from_json(verified.provenance.audit_heads["site-1"]) == anchor
    assert find_heads(json.loads((folder / PROVENANCE_FILE).read_text())) == [head]  # what audit verify reads
    verify_signed_model(folder, [coordinator.public_pem], site_keys={"site-1": site_key.public_pem})
    with pytest.raises(SignatureError, match="site-1's audit head"):  # checked with the key a site gives
        verify_signed_model(folder, [coordinator.public_pem], site_keys={"site-1": SiteKey.generate().public_pem})
    stranger = countersign(head, SiteKey.generate(), at="2026-12-05T10:00:01.000000+00:00")
    sign_model(folder, replace(prov, audit_heads={"site-1": stranger.to_json()}), coordinator)
    with pytest.raises(SignatureError, match="site-1's audit head: audit anchor countersigned by key"):
        verify_signed_model(folder, [coordinator.public_pem])  # countersigned by another coordinator
    sign_model(folder, prov, coordinator)
    data = json.loads((folder / PROVENANCE_FILE).read_text())
    data["audit_heads"]["site-1"]["head"]["seq"] = 3
    (folder / PROVENANCE_FILE).write_text(json.dumps(data))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signed_model(folder, [coordinator.public_pem])
