"""Start a provisioned FLARE participant (site client or coordinator server) inside fednode's state folder.

A startup kit from ``fednode provision`` arrives read-only (a compose secret). We stage a copy under
``$FEDNODE_HOME/nvflare-kit``, lay the site's compiled policy files over its ``local/`` folder, then hand over to
the kit's own ``startup/sub_start.sh`` with ``NVFL_WORKSPACE=$FEDNODE_HOME/nvflare``: NVFlare's supervisor loop
(restarts on ``restart.fl``, stops on ``shutdown.fl``, records the FLARE process in ``pid.fl``), which the image's
health check reads.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fednode.errors import ConfigError
from fednode.settings import Settings

log = logging.getLogger("fednode.node.kit.runtime")

CLIENT_OUTCOME_WAIT_ENV = "NVFLARE_CLIENT_OUTCOME_WAIT_TIMEOUT"
"""NVFlare's ``client_outcome_wait_timeout`` (``ConfigService`` reads ``NVFLARE_<NAME>``): how long the coordinator
waits for a site's end-of-job report before it closes a finished job. NVFlare's default, 900 s, keeps a job RUNNING
for 15 minutes after a site dropped out."""
CLIENT_OUTCOME_WAIT_S = 30
"""fednode's value for it, wherever a coordinator starts (image, compose file, ``fednode coordinator start``, the
local launcher)."""

Role = Literal["site", "coordinator"]
LocalOverlay = Callable[[Path], None]
"""Writes or checks files in a staged kit's ``local/`` folder (the compiled site policy)."""


@dataclass(frozen=True)
class StagedKit:
    """A startup kit copied where FLARE may write, and the workspace FLARE will run in."""

    kit: Path
    workspace: Path

    @property
    def supervisor(self) -> Path:
        return self.kit / "startup" / "sub_start.sh"


def child_pythonpath(existing: str | None = None) -> str:
    """``PYTHONPATH`` for a child process that must import this very fednode: the folder our packages are imported
    from (a checkout's root, or site-packages for the installed wheel) first, then ``existing``."""
    spec = importlib.util.find_spec("node")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("cannot locate the node package to start a child process with it")
    root = str(Path(next(iter(spec.submodule_search_locations))).resolve().parent)
    return os.pathsep.join(p for p in (root, existing or "") if p)


def stage_kit(source: Path, settings: Settings, overlay: LocalOverlay | None = None) -> StagedKit:
    """Copy a startup kit to ``settings.staged_kit_dir`` and apply ``overlay`` to its ``local/`` folder; FLARE
    will run in ``settings.nvflare_workspace``.

    Raises ConfigError naming the path when the kit is missing or incomplete.
    """
    for required in ("startup/sub_start.sh", "startup/rootCA.pem"):
        if not (source / required).is_file():
            raise ConfigError(f"startup kit {source}: missing {required} (is it a kit from `fednode provision`?)")
    staged = settings.staged_kit_dir
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(source, staged, symlinks=False)
    (staged / "local").mkdir(exist_ok=True)
    staged.chmod(0o700)
    if overlay is not None:
        overlay(staged / "local")
    workspace = settings.nvflare_workspace
    workspace.mkdir(parents=True, exist_ok=True)
    workspace.chmod(0o700)
    # A stale pid file from a killed container would make the supervisor refuse to start.
    for stale in ("daemon_pid.fl", "pid.fl", "shutdown.fl", "restart.fl"):
        (workspace / stale).unlink(missing_ok=True)
    log.info("runtime.kit_staged kit=%s workspace=%s", staged, workspace)
    return StagedKit(kit=staged, workspace=workspace)


def supervisor_argv(staged: StagedKit) -> list[str]:
    """The command that runs FLARE under its own supervisor loop."""
    return ["/bin/bash", str(staged.supervisor)]


def coordinator_env() -> dict[str, str]:
    """Environment defaults for a coordinator's FLARE server (an operator's own values take precedence)."""
    return {CLIENT_OUTCOME_WAIT_ENV: str(CLIENT_OUTCOME_WAIT_S)}


def exec_supervisor(staged: StagedKit, defaults: Mapping[str, str] | None = None) -> None:
    """Replace this process with the kit's supervisor (never returns). ``defaults`` fill environment variables
    that are not set already."""
    env = dict(os.environ)
    for key, value in (defaults or {}).items():
        env.setdefault(key, value)
    env["NVFL_WORKSPACE"] = str(staged.workspace)
    argv = supervisor_argv(staged)
    log.info("runtime.exec supervisor=%s", argv[-1])
    os.execve(argv[0], argv, env)  # noqa: S606  # the kit's own start script, from a provisioned kit


def server_storage_overlay(workspace: Path) -> LocalOverlay:
    """Point the coordinator's job store and snapshots into ``workspace/storage`` (the state volume).

    ``fednode provision`` writes the provisioning host's absolute paths there; inside the container they would
    land on a tmpfs and every queued job would vanish with a restart.
    """

    def overlay(local: Path) -> None:
        path = local / "resources.json"
        try:
            resources: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable server resources ({type(exc).__name__})") from None
        storage = workspace / "storage"
        for comp in resources.get("components", []):
            if isinstance(comp, dict) and comp.get("id") == "job_manager":
                comp.setdefault("args", {})["uri_root"] = str(storage / "jobs")
        snapshot = resources.get("snapshot_persistor", {}).get("args", {}).get("storage", {}).get("args")
        if isinstance(snapshot, dict):
            snapshot["root_dir"] = str(storage / "snapshots")
        path.write_text(json.dumps(resources, indent=2) + "\n", encoding="utf-8")
        log.info("runtime.server_storage root=%s", storage)

    return overlay


def write_admin_federation(settings: Settings, server_kit: Path, admin_source: Path, sites: Sequence[str]) -> Path:
    """Stage the admin kit and describe this container's federation for ``fednode study ...``.

    ``fednode provision`` records the provisioning host's paths in ``federation.json``; inside the coordinator
    container the kits lie elsewhere (compose secrets, staged copies). This writes
    ``$FEDNODE_HOME/federation/federation.json`` naming the staged kits, and for each site the coordinator public
    key provisioning pinned there (``local/coordinator.pub``), which is what ``fednode study download`` verifies
    the signed model against. Returns the federation folder.
    """
    from node.kit.layout import COORDINATOR_KEY_DIR, COORDINATOR_PUBLIC_KEY, FEDERATION_FILE, Federation

    admin_json = admin_source / "startup" / "fed_admin.json"
    try:
        admin = json.loads(admin_json.read_text(encoding="utf-8"))["admin"]
        server = json.loads((server_kit / "startup" / "fed_server.json").read_text(encoding="utf-8"))["servers"][0]
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise ConfigError(f"admin or server kit: unreadable startup files ({type(exc).__name__})") from None
    if not sites:
        raise ConfigError("the coordinator needs the provisioned site names (FEDNODE_SITES) for study submission")
    public = server_kit / COORDINATOR_KEY_DIR / "site.ed25519.pub"
    if not public.is_file():
        raise ConfigError(f"{public}: the server kit carries no model-signing public key (re-run `fednode provision`)")
    root = settings.federation_dir
    admin_dir = root / "admin"
    if admin_dir.exists():
        shutil.rmtree(admin_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copytree(admin_source, admin_dir, symlinks=False)
    (admin_dir / "transfer").mkdir(exist_ok=True)
    site_dirs: dict[str, Path] = {}
    for name in sites:
        local = root / "sites" / name / "local"
        local.mkdir(parents=True, exist_ok=True)
        (local / COORDINATOR_PUBLIC_KEY).write_text(public.read_text(encoding="ascii"), encoding="ascii")
        site_dirs[name] = local.parent
    fl_port = int(str(server["service"]["target"]).rsplit(":", 1)[1])
    federation = Federation(
        project=str(admin["project_name"]),
        root=root,
        server_name=str(admin["server_identity"]),
        server_dir=server_kit,
        admin_name=str(admin["username"]),
        admin_dir=admin_dir,
        site_dirs=site_dirs,
        fl_port=fl_port,
        admin_port=int(admin["port"]),
    )
    (root / FEDERATION_FILE).write_text(json.dumps(federation.to_json(), indent=2), encoding="utf-8")
    log.info("runtime.admin_federation sites=%d root=%s", len(site_dirs), root)
    return root
