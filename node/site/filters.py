"""The site's own result filters, compiled from its policy into ``privacy.json`` (``policies.compile``).

NVFlare applies a site's scope filters to every task result *before* the job's own filters. Each filter here
fails closed: a result it cannot vouch for is emptied in place and turned into an ``EXECUTION_RESULT_ERROR``
reply (the job's own filters pass error replies through untouched), and the decision is recorded with the
registry's ``record_egress``. The final word stays with :class:`node.site.egress.guard.EgressGuard`, which checks
the result after every filter.

* :class:`UpdateNormClip` (``norm_clip``, arg ``max_norm``): scales a ``WEIGHT_DIFF`` so its global L2 norm is
  at most ``max_norm``, bounding any one site's influence on the aggregate.
* :class:`DpBudgetFilter` (``dp_budget``): releases a result only while the job's privacy-budget reservation
  holds and the dataset's spent epsilon (the ledger's accountant over the recorded DP-SGD steps) is within the
  budget.
* :class:`EgressSchemaFilter` (``egress_schema``): the egress guard's check as an early filter.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from nvflare.apis.dxo import DataKind, from_shareable
from nvflare.apis.filter import Filter
from nvflare.apis.fl_constant import FLContextKey, ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable

from node.site.context import SiteContext, UsesSiteContext
from node.site.egress.guard import (
    DEFAULT_METRICS,
    EXPECTED,
    EgressPolicy,
    block_in_place,
    check_result,
    head_check_for,
    on_server,
    receipt_check_for,
    record_decision,
)
from node.site.secagg import message_check
from policies.ledger import ReservationStatus

log = logging.getLogger("fednode.node.site.filters")


class _SiteFilter(Filter, UsesSiteContext):  # type: ignore[misc]  # nvflare is untyped
    """A site filter that blocks by emptying the result and records every block."""

    name = "site_filter"

    def __init__(self, *, context: SiteContext | None = None) -> None:
        super().__init__()
        self._context = context

    def process(self, shareable: Shareable, fl_ctx: FLContext) -> Shareable:
        if shareable.get_return_code() != ReturnCode.OK or on_server(fl_ctx):
            return shareable
        try:
            reason = self.apply(shareable, fl_ctx)
        except Exception as exc:  # a filter that cannot finish must not let the result through
            reason = f"{self.name} failed ({type(exc).__name__})"
        if reason is not None:
            job_id = str(fl_ctx.get_job_id() or "")
            task_id = str(fl_ctx.get_prop(FLContextKey.TASK_ID) or "")
            round_ = EXPECTED.get(task_id).round
            block_in_place(shareable)
            log.warning("filters.blocked filter=%s job=%s round=%s reason=%s", self.name, job_id, round_, reason)
            record_decision(self.context, job_id, round_, False, f"{self.name}: {reason}")
        return shareable

    def apply(self, shareable: Shareable, fl_ctx: FLContext) -> str | None:
        """Change ``shareable`` in place if needed; return why it must be blocked, or ``None``."""
        raise NotImplementedError


def global_l2_norm(values: Iterable[Any]) -> float:
    """The L2 norm of all floating-point tensors together (numpy arrays or torch tensors)."""
    total = 0.0
    for v in values:
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            total += float(torch.sum(v.detach().double() ** 2))
        elif isinstance(v, np.ndarray) and v.dtype.kind == "f":
            total += float(np.sum(v.astype(np.float64) ** 2))
    return math.sqrt(total)


class UpdateNormClip(_SiteFilter):
    """Clip a ``WEIGHT_DIFF`` to global L2 norm ``max_norm`` (other kinds than metrics are refused).

    Args (JSON, from ``privacy.json``):
        max_norm: the largest L2 norm an update may have (> 0).
    """

    name = "norm_clip"

    def __init__(self, max_norm: float, *, context: SiteContext | None = None) -> None:
        super().__init__(context=context)
        if not (isinstance(max_norm, int | float) and math.isfinite(max_norm) and max_norm > 0):
            raise ValueError("UpdateNormClip: max_norm must be a positive number")
        self.max_norm = float(max_norm)

    def apply(self, shareable: Shareable, fl_ctx: FLContext) -> str | None:
        dxo = from_shareable(shareable)
        if dxo.data_kind == DataKind.METRICS:
            return None
        if dxo.data_kind != DataKind.WEIGHT_DIFF:
            return "norm clipping needs WEIGHT_DIFF results"
        norm = global_l2_norm(dxo.data.values())
        if not math.isfinite(norm):
            return "update norm is not finite"
        if norm > self.max_norm:
            scale = self.max_norm / norm
            for key, value in dxo.data.items():
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    dxo.data[key] = value * scale
                elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    dxo.data[key] = (value * scale).astype(value.dtype, copy=False)
            dxo.update_shareable(shareable)
            log.info("filters.norm_clipped job=%s norm=%.4g max=%.4g", fl_ctx.get_job_id(), norm, self.max_norm)
        return None


class DpBudgetFilter(_SiteFilter):
    """Release a result only while the job's budget reservation holds and the dataset is within its budget."""

    name = "dp_budget"

    def apply(self, shareable: Shareable, fl_ctx: FLContext) -> str | None:
        context = self.context
        ledger = context.ledger
        job_id = str(fl_ctx.get_job_id() or "")
        dp_required = context.policy is not None and context.policy.privacy.dp.required
        if ledger is None:
            return "no privacy ledger at this site" if dp_required else None
        reservation = ledger.reservation(job_id)
        if reservation is None:
            return "job holds no privacy-budget reservation" if dp_required else None
        if reservation.status is not ReservationStatus.RESERVED:
            return f"budget reservation is {reservation.status.value}"
        spent = ledger.epsilon_spent(reservation.dataset)
        budget = ledger.budget_of(reservation.dataset)
        if spent > budget:
            return f"dataset {reservation.dataset} spent epsilon {spent:.3f} exceeds its budget {budget:.3f}"
        return None


class EgressSchemaFilter(_SiteFilter):
    """The egress guard's schema check as a site filter (before the job's filters).

    Args (JSON, from ``privacy.json``):
        allowed_metrics: scalar metric names a result may carry (default: the egress guard's).
    """

    name = "egress_schema"

    def __init__(self, allowed_metrics: Iterable[str] | None = None, *, context: SiteContext | None = None) -> None:
        super().__init__(context=context)
        metrics = frozenset(allowed_metrics) if allowed_metrics is not None else DEFAULT_METRICS
        self.policy = EgressPolicy(allowed_metrics=metrics)

    def apply(self, shareable: Shareable, fl_ctx: FLContext) -> str | None:
        expected = EXPECTED.get(str(fl_ctx.get_prop(FLContextKey.TASK_ID) or ""))
        receipts = receipt_check_for(self.context, str(fl_ctx.get_job_id() or ""))
        heads = head_check_for(self.context)
        secagg = message_check(str(fl_ctx.get_job_id() or ""))
        return check_result(
            shareable, expected.schema, self.policy, receipt_check=receipts, head_check=heads, secagg_check=secagg
        )
