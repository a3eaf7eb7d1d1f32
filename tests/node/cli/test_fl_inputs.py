"""`fednode site start`, `coordinator start`, `demo` and `experiment clients|imbalance` with a missing kit, model or
data folder: one line naming the option and the path (exit 4), no traceback, nothing created on an empty home."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["site", "start", "--kit", "{tmp}/nope"], "--kit {tmp}/nope: no startup kit there"),
        (["site", "start", "--kit", "{tmp}"], "--kit {tmp}: not a startup kit (no startup/sub_start.sh"),
        (["coordinator", "start", "--kit", "{tmp}/nope"], "--kit {tmp}/nope: no startup kit there"),
        (["demo", "--model", "{tmp}/nope", "--workdir", "{tmp}/demo"], "--model {tmp}/nope: not a folder"),
        (["demo", "--model", "{tmp}", "--workdir", "{tmp}/demo"], "--model {tmp}: no config.json in it"),
        (["demo", "--model", "tiny", "--workdir", "{tmp}/file"], "--workdir {tmp}/file: a file is there"),
        (
            ["experiment", "clients", "--model", "{tmp}/nope", "--out", "{tmp}/out"],
            "--model {tmp}/nope: not a folder; use minilm, tiny or a local checkpoint folder",
        ),
        (
            ["experiment", "imbalance", "--data-dir", "{tmp}/nope", "--out", "{tmp}/out"],
            "--data-dir {tmp}/nope: not a folder",
        ),
        (
            ["experiment", "clients", "--data-dir", "{tmp}", "--model", "tiny", "--out", "{tmp}/out"],
            "--data-dir {tmp}: missing train.tsv, test.tsv",
        ),
        (
            ["experiment", "imbalance", "--model", "tiny", "--out", "{tmp}/file"],
            "--out {tmp}/file: a file is there",
        ),
        (
            ["experiment", "clients", "--model", "tiny", "--out", "{tmp}/file/out"],
            "--out {tmp}/file/out: {tmp}/file is a file",
        ),
    ],
    ids=lambda v: " ".join(v[:3]) if isinstance(v, list) else None,
)
def test_a_missing_input_is_one_line_naming_it_and_nothing_is_created(
    fednode_home: Path, tmp_path: Path, args: list[str], named: str
) -> None:
    given = tmp_path / "given"
    given.mkdir()
    if "{tmp}/file" in " ".join(args):
        (given / "file").write_bytes(b"\x00\xff")
    argv = [a.replace("{tmp}", str(given)) for a in args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: " + named.replace("{tmp}", str(given)))
    assert _files(fednode_home) == []  # no key, no state.db, no staged kit
    assert set(_files(given)) <= {"file"}  # no demo folder, no experiment output


def test_coordinator_start_refuses_a_missing_admin_kit_before_staging_the_server_kit(
    fednode_home: Path, tmp_path: Path
) -> None:
    from node.coordinator.provision import SiteKit, provision_federation

    fed = provision_federation(tmp_path / "federation", [SiteKit("site-1", "hospital_a")], fl_port=18999)
    result = CliRunner().invoke(
        app, ["coordinator", "start", "--kit", str(fed.server_dir), "--admin-kit", str(tmp_path / "nope")]
    )
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == (
        f"Error: --admin-kit {tmp_path / 'nope'}: no startup kit there; `fednode provision` writes one for each party"
    )
    assert _files(fednode_home) == []


def test_coordinator_start_with_an_admin_kit_but_no_site_names_stages_nothing(
    fednode_home: Path, tmp_path: Path
) -> None:
    from node.coordinator.provision import SiteKit, provision_federation

    fed = provision_federation(tmp_path / "federation", [SiteKit("site-1", "hospital_a")], fl_port=18999)
    result = CliRunner().invoke(
        app, ["coordinator", "start", "--kit", str(fed.server_dir), "--admin-kit", str(fed.admin_dir)]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "Error: --sites (FEDNODE_SITES): `fednode study` needs the provisioned site names"
    assert _files(fednode_home) == []
