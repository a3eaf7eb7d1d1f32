"""Every FEDNODE_HOME path comes from the settings, and the product's bundled data from package data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fednode.bundled import bundled
from fednode.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("fednode", "omop_etl", "deid", "policies", "node", "tui")


def test_the_home_layout_is_derived_from_home_and_follows_it(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    assert s.state_db_path == tmp_path / "state.db"
    assert s.omop_db_url == f"sqlite:///{tmp_path / 'omop.db'}"
    assert (s.keys_dir, s.quarantine_dir, s.reports_dir) == (
        tmp_path / "keys",
        tmp_path / "quarantine",
        tmp_path / "reports",
    )
    assert (s.staged_kit_dir, s.site_local_dir) == (tmp_path / "nvflare-kit", tmp_path / "nvflare-kit" / "local")
    assert (s.nvflare_workspace, s.federation_dir, s.exports_dir) == (
        tmp_path / "nvflare",
        tmp_path / "federation",
        tmp_path / "exports",
    )
    moved = Settings(home=tmp_path / "elsewhere", fl={"workspace": tmp_path / "ws"})
    assert moved.nvflare_workspace == tmp_path / "ws" and moved.reports_dir == tmp_path / "elsewhere" / "reports"


def test_runtime_defaults_are_bundled_package_data() -> None:
    from node.coordinator.root_set import DEFAULT_ROOT_SET
    from node.local.data import NCBI_DIR, SYNTHEA_DIR
    from node.local.demo import DQ_ACCEPTED, POLICY_TEMPLATE
    from node.ml.experiments.config import DATA_DIR

    etl = Settings().etl
    package = REPO / "fednode" / "data"
    for path in (etl.vocab_dir, etl.dq_spec_dir, DEFAULT_ROOT_SET, NCBI_DIR, SYNTHEA_DIR, DATA_DIR):
        assert path.exists(), path
        assert package in path.resolve().parents, path
    assert POLICY_TEMPLATE.is_file() and DQ_ACCEPTED.is_file()
    assert (bundled("ncbi-disease") / "LICENSE-CC-BY-4.0.md").is_file()  # the license travels with the data


def _offenders(root: Path, packages: tuple[str, ...]) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            rel = str(path.relative_to(root))
            text = path.read_text(encoding="utf-8")
            # a file beside the code, found by climbing out of the package (a checkout-only default)
            climbs = any(".parents[" in line and ' / "' in line for line in text.splitlines())
            if climbs or re.search(r"\bREPO_ROOT\b", text):
                found.append(f"{rel}: climbs to the checkout")
            if rel != "fednode/settings.py" and 'settings.home / "' in text:
                found.append(f"{rel}: builds a FEDNODE_HOME path (use a Settings property)")
    return found


def test_no_package_spells_a_home_path_or_climbs_to_the_checkout() -> None:
    assert _offenders(REPO, PACKAGES) == []


def test_the_check_catches_both(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text('folder = cli.settings.home / "reports"\n')
    (tmp_path / "pkg" / "b.py").write_text('DATA = Path(__file__).resolve().parents[2] / "data"\n')
    assert _offenders(tmp_path, ("pkg",)) == [
        "pkg/a.py: builds a FEDNODE_HOME path (use a Settings property)",
        "pkg/b.py: climbs to the checkout",
    ]


@pytest.mark.skipif(not (REPO / "pyproject.toml").is_file(), reason="needs the source tree")
def test_the_wheel_carries_the_bundled_data(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy: setuptools writes build/ and *.egg-info next to the sources
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
    subprocess.run([*pip, str(src)], check=True, capture_output=True, timeout=300, cwd=tmp_path)
    (wheel,) = tmp_path.glob("fednode-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "fednode/data/README.md",
        "fednode/data/ncbi-disease/devel.tsv",
        "fednode/data/ncbi-disease/LICENSE-CC-BY-4.0.md",
        "fednode/data/omop-vocab/CONCEPT.csv",
        "fednode/data/synthea-sample/patients.csv",
        "policies/examples/site-policy.yaml",
        "omop_etl/dq/accepted_bundled_sample.txt",
    ):
        assert needed in names, needed
    assert not any(n.startswith(("tests/", "bench/", "data/")) for n in names)
