"""Read a standard NVFlare 2.9 job folder from disk: its ``meta.json`` and the app folders ``deploy_map`` names.

A job folder holds ``meta.json`` and one folder per app (``app/``, or ``app_server/``, ``app_site-1/``, ...
as ``deploy_map`` names them), each with ``config/config_fed_client.json``, ``config/config_fed_server.json``
and optionally ``custom/*.py``. Everything about the apps' contents (the walk, the digest, the manifest) is
:mod:`policies.manifest`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fednode.errors import JobFolderError


@dataclass(frozen=True)
class JobFolder:
    """A job folder as read from disk: its meta and its app folders by name."""

    root: Path
    meta: dict[str, Any]
    apps: dict[str, Path]


def read_job_folder(job_dir: Path) -> JobFolder:
    """Read ``meta.json`` and locate the app folders it deploys; a :class:`~fednode.errors.JobFolderError`
    (exit 4) names what makes the folder not an NVFlare job."""
    if job_dir.is_file():
        raise JobFolderError(
            "is a file, not a job folder: an NVFlare job is a folder with meta.json (unpack an archive first)",
            file=str(job_dir),
        )
    if not job_dir.is_dir():
        raise JobFolderError("not a folder: an NVFlare job is a folder with meta.json", file=str(job_dir))
    meta_path = job_dir / "meta.json"
    if meta_path.is_symlink():
        raise JobFolderError("meta.json is a symbolic link", file=str(meta_path))
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobFolderError("meta.json not found: not an NVFlare job folder", file=str(meta_path)) from None
    except IsADirectoryError:
        raise JobFolderError("meta.json is not a file", file=str(meta_path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise JobFolderError("meta.json is not valid JSON", file=str(meta_path), line=line) from None
    if not isinstance(meta, dict):
        raise JobFolderError("meta.json must hold a JSON object", file=str(meta_path))
    deploy_map = meta.get("deploy_map")
    if not isinstance(deploy_map, dict) or not deploy_map:
        raise JobFolderError("deploy_map is missing or empty", file=str(meta_path), field="deploy_map")
    apps: dict[str, Path] = {}
    for app, targets in deploy_map.items():
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise JobFolderError(f"deploy_map entry {app!r} must list site names", file=str(meta_path))
        app_dir = job_dir / str(app)
        if "/" in str(app) or str(app) in ("", ".", ".."):
            raise JobFolderError(f"deploy_map names app {app!r}, which is not a folder name", file=str(meta_path))
        if app_dir.is_symlink():
            raise JobFolderError(f"app folder {app!r} is a symbolic link", file=str(meta_path))
        if not app_dir.is_dir():
            raise JobFolderError(f"deploy_map names app {app!r} but its folder is missing", file=str(meta_path))
        apps[str(app)] = app_dir
    return JobFolder(job_dir, meta, apps)
