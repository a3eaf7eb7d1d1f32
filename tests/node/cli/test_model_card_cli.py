"""`fednode model card DIR` prints the signed card (read-only) and refuses a changed one; `fednode study submit`
refuses the built-in study without the submitter's limitations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from node.cli.main import app
from node.coordinator.model_card import CARD_JSON, CARD_MD, write_card
from node.coordinator.signing import MODEL_FILE, Provenance, RoundRecord, sha256_file, sign_model
from policies.keys import SiteKey
from tests.node.coordinator.test_model_card import _inputs

ENV = {"COLUMNS": "80"}


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, SiteKey]:
    from node.coordinator.model_card import build_card

    key = SiteKey.generate()
    folder = tmp_path / "model"
    folder.mkdir()
    save_file({"w": torch.zeros(2)}, str(folder / MODEL_FILE))
    attachments = write_card(folder, build_card(_inputs()))
    prov = Provenance(
        "job-1", "d" * 64, "ner", "fedavg", (RoundRecord(0, ("site-1",)),), ("site-1",), {},
        sha256_file(folder / MODEL_FILE), attachments=attachments,
    )  # fmt: skip
    sign_model(folder, prov, key)
    (tmp_path / "coordinator.pem").write_text(key.public_pem, encoding="ascii")
    return folder, key


def _run(args: list[str], home: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env={**ENV, "FEDNODE_HOME": str(home)})
    return result.exit_code, result.output


def test_the_card_prints_with_its_findings_and_creates_nothing(signed: tuple[Path, SiteKey], tmp_path: Path) -> None:
    folder, _ = signed
    before = sorted(p.name for p in folder.iterdir())
    code, out = _run(["model", "card", str(folder)], tmp_path / "home")
    assert code == 0, out
    assert "weaker at site-3" in out and "Limitations" in out and "matches provenance.json" in out
    assert sorted(p.name for p in folder.iterdir()) == before and not (tmp_path / "home").exists()
    code, out = _run(
        ["--json", "model", "card", str(folder), "--public-key", str(tmp_path / "coordinator.pem")], tmp_path
    )
    payload = json.loads(out)
    assert code == 0 and payload["ok"] and payload["checked"].startswith("signature verified")
    assert {s["site"] for s in payload["card"]["sites"]} == {"site-1", "site-2", "site-3"}


@pytest.mark.parametrize("name", [CARD_JSON, CARD_MD])
def test_one_changed_byte_fails_with_exit_5(signed: tuple[Path, SiteKey], tmp_path: Path, name: str) -> None:
    folder, _ = signed
    path = folder / name
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    code, out = _run(["model", "card", str(folder)], tmp_path)
    assert code == 5 and name in out
    code, out = _run(["model", "card", str(folder), "--public-key", str(tmp_path / "coordinator.pem")], tmp_path)
    assert code == 5 and name in out


def test_another_coordinators_key_fails_with_exit_5(signed: tuple[Path, SiteKey], tmp_path: Path) -> None:
    folder, _ = signed
    other = tmp_path / "other.pem"
    other.write_text(SiteKey.generate().public_pem, encoding="ascii")
    code, out = _run(["model", "card", str(folder), "--public-key", str(other)], tmp_path)
    assert code == 5 and "does not verify" in out


def test_a_folder_without_a_card_or_provenance(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = _run(["model", "card", str(empty)], tmp_path)
    assert code == 4 and "no model_card.json here" in out
    (empty / CARD_JSON).write_text("{}", encoding="utf-8")
    code, out = _run(["model", "card", str(empty)], tmp_path)
    assert code == 5 and "provenance.json: missing" in out


def test_study_submit_requires_the_submitters_limitations(tmp_path: Path) -> None:
    code, out = _run(["study", "submit", "--name", "s"], tmp_path / "home")
    assert code == 2 and "--limitations FILE is required" in out
    blank = tmp_path / "limits.md"
    blank.write_text("  \n\n", encoding="utf-8")
    code, out = _run(["study", "submit", "--limitations", str(blank)], tmp_path / "home")
    assert code == 4 and "--limitations" in out and "is empty" in out
    assert not (tmp_path / "home").exists()
