"""The signed global model: a site accepts it only with a trusted signature, intact weights and its own digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fednode.errors import SignatureError
from node.flare.signing import (
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
