"""``policies/manifest/`` is the one home of the job manifest: no other module hashes app files into a digest,
knows NVFlare's signature files, or decodes the manifest carried in the job meta.

The patterns are the ways those rules get written down; each must occur inside ``policies/manifest/`` (so the
grep is known to find them) and nowhere else in the packages, except where an entry below says why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fednode", "omop_etl", "deid", "policies", "node", "tui", "bench")
HOME = ROOT / "policies" / "manifest"

PATTERNS = {
    "inflates compressed data": re.compile(r"\bdecompress(obj)?\s*\("),
    "decodes base64": re.compile(r"\bb64decode\s*\("),
    "names NVFlare's signature files": re.compile(r"__nvfl_(sig|submitter)"),
    "spells the manifest's meta key": re.compile(r"[\"']fednode_manifest[\"']"),
    "hashes a path, NUL and a file hash": re.compile(r"""encode\([^)]*\)\s*\+\s*b["']\\(0|x00)["']"""),
    "hashes file content against a stated sha256": re.compile(r"sha256\w*\([^)]*content"),
    "decides what counts as compiled code": re.compile(r"def is_compiled_path|COMPILED_SUFFIXES\s*="),
}
ALLOWED = {
    # an Ed25519 signature travels as base64 text; it is not a manifest
    ("decodes base64", "policies/keys.py"),
    # OpenSSH public keys and SSHSIG signatures are base64 armour; they are not a manifest
    ("decodes base64", "policies/approver_keys.py"),
    # secure aggregation's keys, signatures and encrypted shares travel as base64 text; they are not a manifest
    ("decodes base64", "node/ml/secagg/_protocol.py"),
}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_the_patterns_find_the_rules_in_the_manifest_package() -> None:
    home = "\n".join(p.read_text(encoding="utf-8") for p in sorted(HOME.rglob("*.py")))
    missing = [name for name, pattern in PATTERNS.items() if not pattern.search(home)]
    assert not missing, f"the grep no longer matches how policies/manifest/ writes: {missing}"


@pytest.mark.parametrize("rule", sorted(PATTERNS))
def test_no_module_outside_the_manifest_package_does_its_job(rule: str) -> None:
    offenders = []
    for path in _sources():
        if HOME in path.parents:
            continue
        rel = path.relative_to(ROOT).as_posix()
        if (rule, rel) in ALLOWED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PATTERNS[rule].search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, f"{rule} outside policies/manifest/:\n" + "\n".join(offenders)


def test_node_flare_manifest_is_gone() -> None:
    assert not (ROOT / "node" / "flare" / "manifest.py").exists()
