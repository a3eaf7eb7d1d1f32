"""NVFlare components used only by the coordinator tests: a numeric site that needs no data and no gate.

``ShiftExecutor`` answers a ``train`` task with the global weights plus this site's ``shifts[site]`` on every
floating-point entry and reports ``examples[site]`` examples, so a test knows exactly what FedAvg (or a robust rule)
must produce; ``delays[site]`` makes a site slow, so a test can kill it mid-round.
"""

from __future__ import annotations

import time

import numpy as np
from nvflare.apis.executor import Executor
from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable, make_reply
from nvflare.apis.signal import Signal
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from nvflare.app_common.utils.fl_model_utils import FLModelUtils


class ShiftExecutor(Executor):  # type: ignore[misc]
    def __init__(
        self,
        shifts: dict[str, float] | None = None,
        examples: dict[str, int] | None = None,
        delays: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.shifts = shifts or {}
        self.examples = examples or {}
        self.delays = delays or {}

    def execute(self, task_name: str, shareable: Shareable, fl_ctx: FLContext, abort_signal: Signal) -> Shareable:
        if task_name != "train":
            return make_reply(ReturnCode.TASK_UNKNOWN)
        site = fl_ctx.get_identity_name()
        shift = float(self.shifts.get(site, 0.01))
        model = FLModelUtils.from_shareable(shareable)
        deadline = time.monotonic() + float(self.delays.get(site, 0.0))
        while time.monotonic() < deadline:
            if abort_signal.triggered:
                return make_reply(ReturnCode.TASK_ABORTED)
            time.sleep(0.2)
        params = {
            k: (v + np.asarray(shift, dtype=v.dtype)) if np.issubdtype(v.dtype, np.floating) else v
            for k, v in model.params.items()
        }
        out = FLModel(
            params=params,
            params_type=ParamsType.FULL,
            metrics={"loss": 1.0 / (1 + (model.current_round or 0)), "shift": shift},
            meta={"num_examples": int(self.examples.get(site, 10))},
        )
        return FLModelUtils.to_shareable(out)


class LeakyExecutor(ShiftExecutor):
    """A job that tries to send text out with its update: the site's egress guard must block it."""

    def execute(self, task_name: str, shareable: Shareable, fl_ctx: FLContext, abort_signal: Signal) -> Shareable:
        reply = super().execute(task_name, shareable, fl_ctx, abort_signal)
        model = FLModelUtils.from_shareable(reply)
        model.metrics = {**(model.metrics or {}), "note_excerpt": "Patient Jane Doe, born 1970-01-01"}
        return FLModelUtils.to_shareable(model)
