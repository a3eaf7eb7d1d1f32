"""Import boundaries, checked in fresh interpreters (as harlequin does): headless packages never pull in the
dashboard toolkit or NVFlare, and ``node`` never pulls in Textual. import-linter checks the static graph
(``make lint``); this checks what really lands in ``sys.modules``."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "fednode": {"textual", "nvflare", "torch", "sqlalchemy", "omop_etl", "deid", "policies", "node", "tui"},
    "omop_etl": {"textual", "nvflare", "node", "tui"},
    "deid": {"textual", "nvflare", "node", "tui"},
    "policies": {"textual", "nvflare", "node", "tui"},
    "node": {"textual", "tui"},
}


def _modules(package: str) -> list[str]:
    names = [package]
    for info in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}."):
        names.append(info.name)
    return sorted(names)


def _loaded_after_import(module: str) -> set[str]:
    code = f"import json, sys, importlib; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300, check=False
    )
    assert result.returncode == 0, f"importing {module} failed:\n{result.stderr[-2000:]}"
    return {name.split(".")[0] for name in json.loads(result.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_and_its_modules_stay_inside_their_boundary(package: str) -> None:
    # One interpreter per package that imports every module of it: the union is what the package can reach.
    modules = [m for m in _modules(package) if not m.startswith("node.cli") or package != "node"]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=600, check=False
    )
    assert result.returncode == 0, f"importing {package} failed:\n{result.stderr[-3000:]}"
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not (loaded & FORBIDDEN[package]), f"{package} pulled in {sorted(loaded & FORBIDDEN[package])}"


def test_cli_help_does_not_import_heavy_libraries() -> None:
    loaded = _loaded_after_import("node.cli")
    assert not loaded & {"torch", "nvflare", "presidio_analyzer", "textual", "transformers"}, sorted(
        loaded & {"torch", "nvflare", "presidio_analyzer", "textual", "transformers"}
    )
