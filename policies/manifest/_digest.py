"""The bytes-to-digest rule (DESIGN.md), written once.

The app digest is sha256 over, for each file in ascending order of its POSIX path relative to the app folder,
the bytes ``path (UTF-8) + b"\\0" + sha256_hex(file bytes) (ASCII) + b"\\n"``. Only NVFlare's two per-submission
signature files are left out; everything else counts (compiled files are refused before they get here).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePosixPath

from fednode.errors import ManifestError
from policies.contracts import ManifestFile

SIGNATURE_FILES = frozenset({".__nvfl_sig.json", ".__nvfl_submitter.crt"})
"""NVFlare's job signature files: randomised per submission, so never part of a digest."""

COMPILED_SUFFIXES = frozenset(
    {".pyc", ".pyo", ".pyd", ".so", ".dll", ".dylib", ".o", ".a", ".whl", ".egg", ".zip", ".jar", ".exe", ".bin"}
)
"""File suffixes that hold code nobody can review: no app may carry them."""


def is_compiled_path(path: str) -> bool:
    """True for ``__pycache__`` content and compiled, native or archive files."""
    p = PurePosixPath(path)
    return "__pycache__" in p.parts or any(s.lower() in COMPILED_SUFFIXES for s in p.suffixes)


def is_signature_file(rel_path: str) -> bool:
    """True for NVFlare's per-submission signature files (in any folder of the app)."""
    return PurePosixPath(rel_path).name in SIGNATURE_FILES


def sha256_hex(data: bytes) -> str:
    """The sha256 of one file's bytes, as the manifest records it."""
    return hashlib.sha256(data).hexdigest()


def app_digest(entries: Iterable[tuple[str, str]]) -> str:
    """The whole-app digest from ``(relative POSIX path, sha256 hex of the bytes)`` pairs, in any order."""
    h = hashlib.sha256()
    for path, file_hash in sorted(entries):
        if is_signature_file(path):
            continue
        h.update(path.encode("utf-8") + b"\0" + file_hash.encode("ascii") + b"\n")
    return h.hexdigest()


def files_digest(files: Iterable[ManifestFile]) -> str:
    """The digest recomputed from a manifest's own files (never trust a stated one)."""
    return app_digest((f.path, f.sha256) for f in files)


def content_mismatches(files: Iterable[ManifestFile]) -> list[str]:
    """Paths of files whose carried text does not hash to their stated sha256 (unreviewable files skipped)."""
    return [f.path for f in files if f.content is not None and sha256_hex(f.content.encode("utf-8")) != f.sha256]


def check_rel_path(rel_path: str) -> None:
    """Refuse absolute paths, ``..``, backslashes, NUL and empty parts in a manifest path."""
    pure = PurePosixPath(rel_path)
    if not rel_path or "\\" in rel_path or "\x00" in rel_path or pure.is_absolute():
        raise ManifestError("manifest path is not a relative POSIX path", field="files.path")
    if any(p in ("", ".", "..") for p in rel_path.split("/")):
        raise ManifestError("manifest path has an empty, '.' or '..' part", field="files.path")
