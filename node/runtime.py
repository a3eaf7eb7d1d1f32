"""Start a provisioned FLARE participant (site client or coordinator server) inside fednode's state folder.

A startup kit from ``fednode provision`` arrives read-only (a compose secret). We stage a copy under
``$FEDNODE_HOME/nvflare-kit``, lay the site's compiled policy files over its ``local/`` folder, then hand over to
the kit's own ``startup/sub_start.sh`` with ``NVFL_WORKSPACE=$FEDNODE_HOME/nvflare``: NVFlare's supervisor loop
(restarts on ``restart.fl``, stops on ``shutdown.fl``, records the FLARE process in ``pid.fl``), which the image's
health check reads.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fednode.errors import ConfigError

log = logging.getLogger("fednode.node.runtime")

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


def stage_kit(source: Path, home: Path, overlay: LocalOverlay | None = None) -> StagedKit:
    """Copy a startup kit into ``home`` and apply ``overlay`` to its ``local/`` folder.

    Raises ConfigError naming the path when the kit is missing or incomplete.
    """
    for required in ("startup/sub_start.sh", "startup/rootCA.pem"):
        if not (source / required).is_file():
            raise ConfigError(f"startup kit {source}: missing {required} (is it a kit from `fednode provision`?)")
    staged = home / "nvflare-kit"
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(source, staged, symlinks=False)
    (staged / "local").mkdir(exist_ok=True)
    staged.chmod(0o700)
    if overlay is not None:
        overlay(staged / "local")
    workspace = home / "nvflare"
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


def exec_supervisor(staged: StagedKit) -> None:
    """Replace this process with the kit's supervisor (never returns)."""
    env = dict(os.environ)
    env["NVFL_WORKSPACE"] = str(staged.workspace)
    argv = supervisor_argv(staged)
    log.info("runtime.exec supervisor=%s", argv[-1])
    os.execve(argv[0], argv, env)  # noqa: S606  # the kit's own start script, from a provisioned kit
