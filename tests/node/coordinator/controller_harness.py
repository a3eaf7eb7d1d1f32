"""Drive ``FednodeController.run`` without NVFlare's server: a fake engine and workspace, and a ``broadcast_model``
that answers each round with whatever results a test computes (not a test module).

The controller sees exactly what NVFlare would hand it: the results it accepted (an error reply from a site, e.g. one
its egress guard blocked, is dropped by NVFlare before the controller sees it), and ``panic`` is recorded instead of
aborting a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nvflare.apis.fl_constant import ReservedKey
from nvflare.apis.fl_context import FLContext
from nvflare.apis.signal import Signal
from nvflare.app_common.abstract.fl_model import FLModel

from node.coordinator.controller import FednodeController
from node.kit.layout import COORDINATOR_KEY_DIR
from policies.keys import load_or_create_site_key

JOB_ID = "job-7"

Answer = Callable[[int, FLModel], list[FLModel]]
"""(round, the task model the controller broadcast) -> the results NVFlare hands back."""


class FakeWorkspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    def get_root_dir(self) -> str:
        return str(self.root)

    def get_run_dir(self, job_id: str) -> str:
        return str(self.root / job_id)

    def get_job_meta_path(self, job_id: str) -> str:
        return str(self.root / job_id / "meta.json")


class FakeEngine:
    def __init__(self, root: Path, sites: tuple[str, ...]) -> None:
        self._workspace = FakeWorkspace(root)
        self._clients = [SimpleNamespace(name=s) for s in sites]

    def get_clients(self) -> list[Any]:
        return list(self._clients)

    def get_workspace(self) -> FakeWorkspace:
        return self._workspace


@dataclass
class Driven:
    """What one run did: the rounds broadcast, the panics raised, and where its files are."""

    run_dir: Path
    coordinator_key: str
    broadcasts: list[int] = field(default_factory=list)
    panics: list[str] = field(default_factory=list)

    def rounds(self) -> list[dict[str, Any]]:
        path = self.run_dir / "rounds.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


def drive(
    controller: FednodeController,
    root: Path,
    sites: tuple[str, ...],
    answer: Answer,
    *,
    job_meta: Mapping[str, Any] | None = None,
) -> Driven:
    """Run the controller's workflow against ``answer``; the job meta (what NVFlare stores) goes to the run dir."""
    run_dir = root / JOB_ID
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "meta.json").write_text(json.dumps(dict(job_meta or {})), encoding="utf-8")
    driven = Driven(run_dir, load_or_create_site_key(root / COORDINATOR_KEY_DIR).public_pem)
    fl_ctx = FLContext()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, JOB_ID, private=False, sticky=False)

    def broadcast_model(*, data: FLModel, **_kwargs: Any) -> list[FLModel]:
        rnd = int(data.current_round or 0)
        driven.broadcasts.append(rnd)
        return answer(rnd, data)

    controller.engine = FakeEngine(root, sites)
    controller.fl_ctx = fl_ctx
    controller.abort_signal = Signal()
    controller.broadcast_model = broadcast_model  # type: ignore[method-assign]
    controller.panic = driven.panics.append  # type: ignore[method-assign]
    controller.run()
    return driven
