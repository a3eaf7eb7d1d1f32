"""`fednode provision` keeps the console for fednode: NVFlare's provisioning prints go to the federation's log."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from node.cli.main import app


def test_nvflare_provisioning_chatter_goes_to_the_federation_log(tmp_path: Path) -> None:
    out = tmp_path / "fed"
    result = CliRunner().invoke(
        app, ["--home", str(tmp_path / "home"), "provision", "--sites", "2", "--out", str(out), "--port", "18912"]
    )
    assert result.exit_code == 0, result.output
    assert "INFO" not in result.output and "Root CA validity" not in result.output
    log = out / "logs" / "provision.log"
    assert "Root CA validity" in log.read_text(encoding="utf-8")
    assert str(log) in " ".join(result.stderr.split())
    assert "provisioned fednode" in result.stdout


def test_a_refused_reprovisioning_writes_no_log(tmp_path: Path) -> None:
    out = tmp_path / "fed"
    args = ["--home", str(tmp_path / "home"), "provision", "--sites", "1", "--out", str(out), "--port", "18914"]
    assert CliRunner().invoke(app, args).exit_code == 0
    (out / "logs" / "provision.log").unlink()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2
    assert not (out / "logs" / "provision.log").exists()
