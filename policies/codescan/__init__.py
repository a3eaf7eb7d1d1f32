"""Static scan of a job's code (AST, not regex): what its Python reaches, file by file and line by line.

``scan_files`` takes the app's files as the manifest carries them (relative path -> text, or None for a
file that is not UTF-8 text) and returns findings sorted by file and line. Compiled or binary files are
always refused (``compiled_code`` / ``unreviewable``): a reviewer cannot read them and Python may run them.
The policy decides which of the other capabilities deny a job (``jobs.forbidden_capabilities``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath

from policies.codescan._scanner import UNREVIEWABLE, fold_constant, is_inside_workspace, scan_source
from policies.codescan._tables import COMPILED_SUFFIXES, classify
from policies.contracts import Finding, JobManifest

COMPILED_CODE = "compiled_code"
"""Capability name of a finding for a compiled or archive file (always refused)."""

ALWAYS_REFUSED = frozenset({COMPILED_CODE, UNREVIEWABLE})

__all__ = [
    "ALWAYS_REFUSED",
    "COMPILED_CODE",
    "UNREVIEWABLE",
    "classify",
    "fold_constant",
    "is_compiled_path",
    "is_inside_workspace",
    "scan_files",
    "scan_manifest",
    "scan_source",
]


def is_compiled_path(path: str) -> bool:
    """True for ``__pycache__`` content and compiled, native or archive files."""
    p = PurePosixPath(path)
    return "__pycache__" in p.parts or any(s.lower() in COMPILED_SUFFIXES for s in p.suffixes)


def scan_files(files: Mapping[str, str | None]) -> tuple[Finding, ...]:
    """Findings for every file of an app; Python files are parsed, compiled and binary files refused."""
    findings: list[Finding] = []
    for path in sorted(files):
        text = files[path]
        if is_compiled_path(path):
            findings.append(Finding(path, 0, COMPILED_CODE, "compiled or packed code cannot be reviewed"))
        elif text is None:
            findings.append(Finding(path, 0, UNREVIEWABLE, "binary file: its content cannot be reviewed"))
        elif path.endswith((".py", ".pyw", ".pyi")):
            findings.extend(scan_source(text, path))
    return tuple(sorted(findings, key=lambda f: (f.file, f.line, f.capability, f.message)))


def scan_manifest(manifest: JobManifest) -> tuple[Finding, ...]:
    """Findings for the files a job manifest carries."""
    return scan_files({f.path: f.content for f in manifest.files})
