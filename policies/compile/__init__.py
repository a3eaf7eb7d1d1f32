"""Compile the site policy into NVFlare 2.9 site files, and validate them as the site does at boot.

``compile_site(policy)`` gives ``privacy.json`` (the site scope and its result filters), ``authorization.json``
(bring-your-own-code restricted as the policy says) and ``resources.json`` (the gate components, the digest
validator and the config-only class allow list, merged into the provisioned file). ``write_site_files`` writes
them atomically into the site's ``local/`` folder; ``validate_site_dir`` builds every class they name and
raises :class:`~fednode.errors.PolicyFileError` naming the file and the entry when one cannot be built.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fednode.errors import PolicyFileError
from policies.compile._authorization import compile_authorization
from policies.compile._filters import FILTERS, FilterClass
from policies.compile._privacy import PRIVACY_COMPONENTS, compile_privacy
from policies.compile._resources import (
    APP_VALIDATOR,
    BASE_CLIENT_RESOURCES,
    CONFIG_ONLY_CLASSES,
    GATE_COMPONENTS,
    JOB_LAUNCHER,
    compile_resources,
    resource_keys,
)
from policies.compile._validate import (
    Loader,
    import_object,
    read_json,
    validate_authorization,
    validate_privacy,
    validate_resources,
    validate_site_dir,
)
from policies.policy_model import SitePolicy

__all__ = [
    "APP_VALIDATOR",
    "BASE_CLIENT_RESOURCES",
    "CONFIG_ONLY_CLASSES",
    "FILTERS",
    "GATE_COMPONENTS",
    "JOB_LAUNCHER",
    "PRIVACY_COMPONENTS",
    "FilterClass",
    "Loader",
    "SiteFiles",
    "compile_site",
    "import_object",
    "load_base_resources",
    "validate_site_dir",
    "validate_site_files",
    "write_site_files",
]


@dataclass(frozen=True)
class SiteFiles:
    """The three compiled site files, as JSON-ready dicts."""

    privacy: dict[str, Any]
    authorization: dict[str, Any]
    resources: dict[str, Any]

    @property
    def resource_components(self) -> list[dict[str, Any]]:
        """The components fednode adds to resources.json (for provisioning, which merges them itself)."""
        return [dict(c) for c in (*GATE_COMPONENTS, JOB_LAUNCHER)]

    @property
    def resource_keys(self) -> dict[str, Any]:
        """The top-level resources.json keys fednode sets (for provisioning)."""
        return resource_keys()

    def by_name(self) -> dict[str, dict[str, Any]]:
        return {
            "privacy.json": self.privacy,
            "authorization.json": self.authorization,
            "resources.json": self.resources,
        }


def compile_site(policy: SitePolicy, *, base_resources: dict[str, Any] | None = None) -> SiteFiles:
    """The site files for ``policy``; ``base_resources`` is the provisioned resources.json (default: NVFlare's)."""
    try:
        privacy = compile_privacy(policy)
        authorization = compile_authorization(policy)
    except ValueError as exc:
        raise PolicyFileError(str(exc), file="<policy>") from None
    return SiteFiles(privacy, authorization, compile_resources(base_resources))


def validate_site_files(files: SiteFiles, *, loader: Loader = import_object) -> dict[str, int]:
    """Validate compiled files before they are written (same checks as :func:`validate_site_dir`)."""
    report = {"privacy.json": validate_privacy(files.privacy, file="privacy.json", loader=loader)}
    validate_authorization(files.authorization, file="authorization.json", loader=loader)
    report["authorization.json"] = 0
    report["resources.json"] = validate_resources(files.resources, file="resources.json", loader=loader)
    return report


def write_site_files(files: SiteFiles, local_dir: Path) -> list[Path]:
    """Write the files into ``local_dir`` atomically (temp file + rename), each one whole or not at all."""
    local_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in files.by_name().items():
        target = local_dir / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=local_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2, sort_keys=True)
                fh.write("\n")
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def load_base_resources(path: Path | None) -> dict[str, Any] | None:
    """The provisioned resources.json to merge into, if there is one."""
    return read_json(path) if path is not None and path.is_file() else None
