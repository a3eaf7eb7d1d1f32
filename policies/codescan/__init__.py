"""Static scan of a job's code (AST, not regex): what its Python reaches, file by file and line by line.

``scan_files`` takes the app's files as the manifest carries them (relative path -> text, or None for a
file that is not UTF-8 text) and returns findings sorted by file and line. Each finding has a severity:
``"deny"`` findings can deny the job (the ``code_scan`` rule: always for the capabilities in
``ALWAYS_REFUSED``, otherwise as ``jobs.forbidden_capabilities`` says), ``"warn"`` findings never deny and
are shown to the reviewer at their line, because the runtime sandbox enforces what the scan cannot decide.

Job code may use only what the allow-list in :mod:`._tables` names; for a bring-your-own-code app every file
is scanned or refused and the client config may name only the site's component classes (:mod:`._byoc`).
``scan_manifest_bounded`` runs the scan in a worker process with a time and memory limit
(:mod:`.worker`); a scan that does not finish denies that job alone.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from policies.codescan._byoc import (
    CLIENT_COMPONENTS,
    JOB_CONFIG,
    JOB_LAYOUT,
    check_client_config,
    check_layout,
    config_objects,
    is_python,
    local_module_name,
)
from policies.codescan._scanner import (
    DENY,
    NOT_ALLOWED,
    UNREVIEWABLE,
    WARN,
    exports_of,
    fold_constant,
    is_inside_workspace,
    judge_prepared,
    prepare_source,
    scan_source,
)
from policies.codescan._tables import ALLOWED, DENIED, MODULES, classify, judge
from policies.codescan.worker import SCAN_DID_NOT_FINISH, ScanLimits, scan_manifest_bounded
from policies.contracts import Finding, JobKind, JobManifest
from policies.manifest import is_compiled_path  # the one rule of what counts as compiled (the walk refuses it)

COMPILED_CODE = "compiled_code"
"""Capability name of a finding for a compiled or archive file (always refused)."""

ALWAYS_REFUSED = frozenset({COMPILED_CODE, UNREVIEWABLE, NOT_ALLOWED, JOB_LAYOUT, JOB_CONFIG, SCAN_DID_NOT_FINISH})
"""Capabilities whose deny findings deny a job whatever the policy forbids."""

SEVERITIES = (DENY, WARN)

__all__ = [
    "ALWAYS_REFUSED",
    "CLIENT_COMPONENTS",
    "COMPILED_CODE",
    "DENY",
    "JOB_CONFIG",
    "JOB_LAYOUT",
    "NOT_ALLOWED",
    "SCAN_DID_NOT_FINISH",
    "SEVERITIES",
    "UNREVIEWABLE",
    "WARN",
    "ScanLimits",
    "classify",
    "config_objects",
    "fold_constant",
    "is_compiled_path",
    "is_inside_workspace",
    "judge",
    "scan_files",
    "scan_manifest",
    "scan_manifest_bounded",
    "scan_source",
]

_KNOWN_ROOTS = frozenset(n.split(".")[0] for n in (*ALLOWED, *DENIED, *MODULES)) | frozenset(sys.stdlib_module_names)


def scan_files(
    files: Mapping[str, str | None], *, byoc: bool = False, components: frozenset[str] = CLIENT_COMPONENTS
) -> tuple[Finding, ...]:
    """Findings for every file of an app; with ``byoc`` also the app-level rules (layout, client config)."""
    findings: list[Finding] = []
    modules = {path: local_module_name(path) for path in files if is_python(path)}
    local = frozenset(m for m in modules.values() if m)
    for path, module in sorted(modules.items()):
        root = module.split(".")[0] if module else None
        if root in _KNOWN_ROOTS and files[path] is not None:
            findings.append(Finding(path, 0, NOT_ALLOWED, f"the job's module {root!r} shadows a module of that name"))
    prepared = {
        path: prepare_source(text, path, module=module, local_modules=local)
        for path, module in modules.items()
        if (text := files[path]) is not None and not is_compiled_path(path)
    }
    exports = {m: exports_of(prepared[path]) for path, m in modules.items() if m and path in prepared}
    for path in sorted(files):
        text = files[path]
        if is_compiled_path(path):
            findings.append(Finding(path, 0, COMPILED_CODE, "compiled or packed code cannot be reviewed"))
        elif text is None:
            findings.append(Finding(path, 0, UNREVIEWABLE, "binary file: its content cannot be reviewed"))
        elif path in prepared:
            findings.extend(judge_prepared(prepared[path], local_modules=local, exports=exports))
    if byoc:
        findings.extend(check_layout(p for p in files if not is_compiled_path(p)))
        findings.extend(check_client_config(files, components))
    return tuple(sorted(set(findings), key=lambda f: (f.file, f.line, f.capability, f.message, f.severity)))


def scan_manifest(manifest: JobManifest, *, components: frozenset[str] = CLIENT_COMPONENTS) -> tuple[Finding, ...]:
    """Findings for the files a job manifest carries (with the BYOC rules for a job that brings code)."""
    return scan_files(
        {f.path: f.content for f in manifest.files}, byoc=manifest.kind is JobKind.BYOC, components=components
    )
