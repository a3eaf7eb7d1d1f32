"""The one walk over an app folder: strict, bounded, and every file read exactly once.

Refused outright (:class:`~fednode.errors.JobFolderError`, exit 4): a missing app folder or one that is a symbolic
link, a symbolic link or special file inside it, a compiled or native file or folder (``__pycache__``, ``.pyc``,
``.so``, ... as :func:`is_compiled_path` names them: a reviewed ``model.py`` with a hidden ``.pyc``
beside it runs the ``.pyc``), and an app larger than :data:`MAX_APP_BYTES`. NVFlare's signature files are left out
of a deployed app (NVFlare wrote them) and refused in a job folder read for submission or review
(``submitted=True``): a researcher's folder never carries them, so one that does hides a file from the digest.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fednode.errors import DigestMismatchError, JobFolderError
from policies.contracts import ManifestFile
from policies.manifest._digest import files_digest, is_compiled_path, is_signature_file, sha256_hex

MAX_APP_BYTES = 64 * 1024 * 1024
"""No app folder larger than this (all files) is read: the manifest of a larger one could not be decoded at a
site (:data:`policies.manifest.MAX_DECODED_BYTES`). The site policy's ``jobs.max_app_bytes`` (a verdict rule,
2 MiB by default) is the tighter, per-site limit."""

MAX_REVIEW_BYTES = 1024 * 1024
"""Files larger than this are hashed but carry no content (the code scan then refuses them as unreviewable)."""


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def app_paths(app_folder: Path, *, max_bytes: int | None = None, submitted: bool = False) -> list[tuple[str, Path]]:
    """Every file of an app as ``(relative POSIX path, path)`` in path order, after the refusals above
    (``max_bytes``: :data:`MAX_APP_BYTES` unless given; ``submitted``: refuse signature-named files)."""
    limit = MAX_APP_BYTES if max_bytes is None else max_bytes
    root = Path(app_folder)
    if root.is_symlink() or not root.is_dir():
        raise JobFolderError(f"app folder {root.name!r} is missing or is a symbolic link")
    found: list[tuple[str, Path]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            rel = _rel(root, here / name)
            if (here / name).is_symlink():
                raise JobFolderError(f"symbolic link in app: {rel!r}")
            if is_compiled_path(rel + "/x"):
                raise JobFolderError(f"refused {rel!r}: compiled-code folder")
        for name in sorted(filenames):
            path = here / name
            rel = _rel(root, path)
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
                raise JobFolderError(f"symbolic link or special file in app: {rel!r}")
            if is_signature_file(rel):
                if submitted:
                    raise JobFolderError(
                        f"{rel!r} is named like an NVFlare signature file: NVFlare writes those itself when the job"
                        " is submitted; remove it from the job folder"
                    )
                continue
            if is_compiled_path(rel):
                raise JobFolderError(f"refused {rel!r}: compiled or native file")
            total += st.st_size
            if total > limit:
                raise JobFolderError(f"app {root.name!r} is larger than {limit} bytes, the most any job may carry")
            found.append((rel, path))
    return sorted(found)


def _text_or_none(data: bytes) -> str | None:
    if len(data) > MAX_REVIEW_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_app(app_folder: Path, *, max_bytes: int | None = None, submitted: bool = False) -> tuple[ManifestFile, ...]:
    """Every file of an app with its sha256, size and (where reviewable) text, each file read once
    (``submitted``: the folder is a job folder for submission or review, not a deployed app)."""
    limit = MAX_APP_BYTES if max_bytes is None else max_bytes
    files: list[ManifestFile] = []
    total = 0
    for rel, path in app_paths(app_folder, max_bytes=limit, submitted=submitted):
        data = path.read_bytes()
        total += len(data)
        if total > limit:  # a file grew after the walk measured it
            raise JobFolderError(f"app {Path(app_folder).name!r} is larger than {limit} bytes")
        files.append(ManifestFile(rel, sha256_hex(data), len(data), _text_or_none(data)))
    return tuple(files)


def folder_digest(app_folder: Path) -> str:
    """The digest of the bytes in an app folder as they lie on disk: the deploy-time check.

    Raises :class:`~fednode.errors.DigestMismatchError` (exit 5) where the walk refuses the folder: such bytes
    can never match an approval.
    """
    try:
        return files_digest(read_app(app_folder))
    except JobFolderError as exc:
        raise DigestMismatchError(exc.message) from None
