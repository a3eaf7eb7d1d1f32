"""Approvers' TOTP secrets arrive as a compose secret and are installed into the state volume at boot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest

from fednode.errors import ConfigError
from node.site.boot import install_totp_secrets
from policies.totp import FileTotpVerifier

SECRET_A = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SECRET_B = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "totp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_installed_secrets_verify_codes_and_are_private(tmp_path: Path) -> None:
    verifier = FileTotpVerifier(tmp_path / "keys" / "totp")
    secrets = _file(tmp_path, f'"dr.hansen" = "{SECRET_A}"\n"nurse.berg" = "{SECRET_B.lower()}"\n')
    assert install_totp_secrets(secrets, verifier) == 2
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert verifier.verify("dr.hansen", pyotp.TOTP(SECRET_A).at(now), now) is not None
    assert verifier.verify("nurse.berg", pyotp.TOTP(SECRET_B).at(now), now) is not None
    assert verifier.verify("dr.hansen", pyotp.TOTP(SECRET_B).at(now), now) is None
    for path in (tmp_path / "keys" / "totp").iterdir():
        assert path.stat().st_mode & 0o077 == 0


def test_a_restart_installs_nothing_new_and_never_rotates_silently(tmp_path: Path) -> None:
    verifier = FileTotpVerifier(tmp_path / "totp")
    assert install_totp_secrets(_file(tmp_path, f'"dr.hansen" = "{SECRET_A}"\n'), verifier) == 1
    assert install_totp_secrets(_file(tmp_path, f'"dr.hansen" = "{SECRET_A}"\n'), verifier) == 0
    with pytest.raises(ConfigError, match="different TOTP secret"):
        install_totp_secrets(_file(tmp_path, f'"dr.hansen" = "{SECRET_B}"\n'), verifier)


@pytest.mark.parametrize("text", ["", "   \n"])
def test_an_empty_or_absent_file_installs_nothing(tmp_path: Path, text: str) -> None:
    verifier = FileTotpVerifier(tmp_path / "totp")
    assert install_totp_secrets(_file(tmp_path, text), verifier) == 0
    assert install_totp_secrets(tmp_path / "missing.toml", verifier) == 0
    assert not (tmp_path / "totp").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"dr.hansen" = "not base32 at all, really !!"\n', "not valid base32"),
        ('"dr.hansen" = "JBSWY3DP"\n', "too short"),
        ('"dr.hansen" = 12345\n', "must be a base32 string"),
        ('dr.hansen = "JBSWY3DPEHPK3PXP\n', "not valid TOML"),
    ],
)
def test_bad_entries_are_refused_without_echoing_the_secret(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as excinfo:
        install_totp_secrets(_file(tmp_path, text), FileTotpVerifier(tmp_path / "totp"))
    assert "JBSWY3DP" not in excinfo.value.message
    assert "really" not in excinfo.value.message
