"""The startup-kit layout both sides rely on: where the kits lie, and where the model-signing key lives in them.

``fednode provision`` (:mod:`node.coordinator.provision`) writes it; staging a kit (:mod:`node.kit.runtime`),
the coordinator's controller and ``fednode study`` read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fednode.errors import ConfigError

COORDINATOR_KEY_DIR = Path("local") / "fednode-keys"
"""The coordinator's Ed25519 model-signing key, inside the server kit (never leaves the coordinator)."""
COORDINATOR_PUBLIC_KEY = "coordinator.pub"
"""Its public key, pinned in every site's ``local/``: a site trusts a global model signed by this key only."""
SITE_KEYS_DIR = Path("local") / "fednode-site-keys"
"""Inside the server kit: each site's Ed25519 public key (``<site>.pub``), pinned at provisioning. The coordinator
verifies a site's signed audit heads against this key only, never against one a site sends."""
SITE_PUBLIC_KEY = "site.pub"
"""Inside a site's kit ``local/``: that site's own public key as pinned at provisioning (its identity)."""


@dataclass(frozen=True)
class Federation:
    """The provisioned startup kits, one folder per participant."""

    project: str
    root: Path
    server_name: str
    server_dir: Path
    admin_name: str
    admin_dir: Path
    site_dirs: Mapping[str, Path]
    fl_port: int
    admin_port: int

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "root": str(self.root),
            "server_name": self.server_name,
            "server_dir": str(self.server_dir),
            "admin_name": self.admin_name,
            "admin_dir": str(self.admin_dir),
            "site_dirs": {k: str(v) for k, v in self.site_dirs.items()},
            "fl_port": self.fl_port,
            "admin_port": self.admin_port,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Federation:
        return cls(
            project=str(data["project"]),
            root=Path(data["root"]),
            server_name=str(data["server_name"]),
            server_dir=Path(data["server_dir"]),
            admin_name=str(data["admin_name"]),
            admin_dir=Path(data["admin_dir"]),
            site_dirs={str(k): Path(v) for k, v in data["site_dirs"].items()},
            fl_port=int(data["fl_port"]),
            admin_port=int(data["admin_port"]),
        )


FEDERATION_FILE = "federation.json"


def load_federation(root: Path) -> Federation:
    """Read the ``federation.json`` that ``provision_federation`` left in ``root``."""
    path = root / FEDERATION_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no provisioned federation here (run `fednode provision`)")
    return Federation.from_json(json.loads(path.read_text(encoding="utf-8")))
