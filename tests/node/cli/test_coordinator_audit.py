"""The coordinator's record of processing (issue 14): provisioning and study submissions are appended to the
coordinator's own audit log in the federation folder, signed with the coordinator's key; reprovisioning with a new
key keeps the old log aside instead of re-signing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from node.coordinator.audit import COORDINATOR_AUDIT_DB, coordinator_key_id
from node.kit.layout import COORDINATOR_KEY_DIR, FEDERATION_FILE, Federation
from policies.audit import AuditLog
from policies.keys import load_site_key
from policies.state import StateStore

runner = CliRunner()


def _log(root: Path) -> tuple[list[Any], Federation]:
    fed = Federation.from_json(json.loads((root / FEDERATION_FILE).read_text()))
    store = StateStore.for_path(root / COORDINATOR_AUDIT_DB)
    try:
        audit = AuditLog(store, None, public_key=load_site_key(fed.server_dir / COORDINATOR_KEY_DIR).public_key)
        audit.verify()
        return audit.records(), fed
    finally:
        store.dispose()


class _Client:
    """The admin API, answered here: a submitted job gets an id."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def check_reachable(self) -> None:
        pass

    def submit(self, folder: Path) -> str:
        return "job-0001"


def test_provisioning_and_submissions_are_in_the_coordinators_audit_log(
    fednode_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "federation"
    result = runner.invoke(app, ["provision", "--sites", "2", "--out", str(root)])
    assert result.exit_code == 0, result.output
    records, fed = _log(root)
    assert [r.event for r in records] == ["federation:provisioned"]
    details = records[0].details
    assert details["sites"] == ["site-1", "site-2"] and details["coordinator_key_id"] == coordinator_key_id(fed)
    assert details["replaced_key_id"] is None

    monkeypatch.setattr("node.coordinator.study.StudyClient", _Client)
    monkeypatch.setattr("node.coordinator.study.build_job", lambda spec, jobs: (jobs / "j", "sha256:abc"))
    limits = tmp_path / "limits.md"  # the submitter's limitations for the model card
    limits.write_text("English notes only.\n", encoding="utf-8")
    args = [
        "study",
        "submit",
        "--federation",
        str(root),
        "--model",
        "tiny",
        "--rounds",
        "2",
        "--limitations",
        str(limits),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records, _ = _log(root)
    submitted = records[-1]
    assert submitted.event == "study:submitted" and submitted.details["job_id"] == "job-0001"
    assert submitted.details["digest"] == "sha256:abc" and submitted.details["rounds"] == 2

    old = coordinator_key_id(fed)
    result = runner.invoke(app, ["provision", "--sites", "2", "--out", str(root), "--force"])
    assert result.exit_code == 0, result.output
    records, fed = _log(root)  # a new chain, verified with the new key
    assert [r.event for r in records] == ["federation:provisioned"]
    assert records[0].details["replaced_key_id"] == old != coordinator_key_id(fed)
    assert (root / f"coordinator-audit.{old}.db").is_file()
