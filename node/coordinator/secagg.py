"""The coordinator's side of secure aggregation: the extra stages of each round and the unmasked sum.

:class:`CoordinatorSecAgg` drives :class:`node.ml.secagg.SecAggServer` through the controller's
``broadcast_model``: before the train task it sends ``secagg_advertise`` (collects the sites' signed keys) and
``secagg_share`` (relays every advertisement, collects the encrypted shares); the train task then carries the
shares each site was sent, and goes only to the sites that shared. The masked results are summed as they arrive
(:meth:`take`); :meth:`aggregate` sends ``secagg_unmask`` to the survivors, rebuilds their self masks and the
dropped sites' pairwise masks and returns the FedAvg of the survivors' updates. The coordinator never holds a
site's update in the clear, so it cannot run an aggregator that needs one: :meth:`refusal` names those and the
controller refuses such a study before its first round. Every round's survivors and recovered (dropped) sites go
into the signed model's provenance (:meth:`provenance`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from fednode.errors import SecureAggregationError
from node.ml.aggregation import AggregationResult
from node.ml.secagg import (
    ADVERTISE_TASK,
    META_KEY,
    SHARE_TASK,
    UNMASK_TASK,
    FixedPoint,
    RoundContext,
    SecAggServer,
    default_threshold,
    study_refusal,
)

log = logging.getLogger("fednode.node.coordinator.secagg")


class Broadcaster(Protocol):
    """The part of NVFlare's ``ModelController`` the stages use."""

    def broadcast_model(
        self,
        task_name: str,
        data: FLModel,
        targets: list[str],
        min_responses: int,
        timeout: int,
        wait_time_after_min_received: int,
    ) -> list[FLModel]: ...


class CoordinatorSecAgg:
    """Secure aggregation for one study (``secure_aggregation`` controller argument; ``None``: off).

    Args (JSON): ``threshold`` (sites whose shares rebuild a secret; default: a strict majority of the sites that
    advertise each round, at least 2), ``ring`` (``bits``, ``frac_bits``, ``clip``: :class:`FixedPoint`),
    ``timeout_s`` / ``wait_after_min_s`` for the extra stages (default: the round's).
    """

    def __init__(self, args: Mapping[str, Any] | None) -> None:
        self.active = args is not None
        args = dict(args or {})
        threshold = args.get("threshold")
        self.threshold = int(threshold) if threshold is not None else None
        self.ring = FixedPoint.from_json({**FixedPoint().to_json(), **dict(args.get("ring") or {})})
        self.timeout_s = int(args.get("timeout_s", 0))
        self.wait_after_min_s = args.get("wait_after_min_s")
        self._server: SecAggServer | None = None
        self._rounds: list[dict[str, Any]] = []

    def refusal(self, algorithm: str, sites: int) -> str | None:
        """Why a study with ``algorithm`` over ``sites`` sites cannot be securely aggregated, or ``None``."""
        return study_refusal(algorithm, sites, self.threshold) if self.active else None

    # -- before the train task ----------------------------------------------------------------------------------
    def before_train(
        self, ctrl: Broadcaster, job_id: str, rnd: int, targets: Sequence[str], timeout: int, wait: int
    ) -> tuple[list[str], dict[str, Any]]:
        """Run the advertise and share stages; return the train task's targets and its extra meta."""
        threshold = self.threshold or default_threshold(len(targets))
        context = RoundContext(job_id, rnd, threshold, self.ring)
        server = SecAggServer(context)
        self._server = server
        timeout, wait = self._limits(timeout, wait)
        stage: dict[str, Any] = {"stage": "advertise", "context": context.to_json()}
        replies = self._stage(ctrl, ADVERTISE_TASK, stage, list(targets), threshold, timeout, wait)
        adverts = server.collect_adverts({s: m.get("advert") for s, m in replies.items()})
        stage = {"stage": "share", "round": rnd, "adverts": adverts}
        replies = self._stage(ctrl, SHARE_TASK, stage, list(server.advertised), threshold, timeout, wait)
        shares = {s: m["shares"] for s, m in replies.items() if isinstance(m.get("shares"), Mapping)}
        routed = server.route_shares(shares)
        return list(server.shared), {META_KEY: {"stage": "masked", "round": rnd, "shares": routed}}

    # -- the train results ----------------------------------------------------------------------------------------
    def take(self, site: str, params: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Add one site's masked input to the sum; return the (empty) clear update the controller records."""
        server = self._server
        message = meta.get(META_KEY)
        try:
            if server is None or not isinstance(message, Mapping) or message.get("stage") != "masked":
                raise SecureAggregationError(f"masked input: {site}'s result is not a masked input")
            server.add_masked(site, {str(k): np.asarray(v) for k, v in params.items()})
        except SecureAggregationError as exc:  # left out of the sum: the site counts as dropped, its masks recovered
            log.error("secagg.input_refused site=%s reason=%s", site, exc.message)
        return {}

    def aggregate(
        self, ctrl: Broadcaster, rnd: int, state: Mapping[str, torch.Tensor], timeout: int, wait: int
    ) -> AggregationResult:
        """Unmask the sum of the survivors' inputs; their example-weighted mean as the round's update."""
        server = self._server
        if server is None:
            raise SecureAggregationError("unmask: the round did not start")
        survivors = server.unmask_request()
        threshold = server.context.threshold
        timeout, wait = self._limits(timeout, wait)
        stage = {"stage": "unmask", "round": rnd, "survivors": survivors}
        replies = self._stage(ctrl, UNMASK_TASK, stage, survivors, threshold, timeout, wait)
        result = server.finish({s: m["shares"] for s, m in replies.items() if isinstance(m.get("shares"), Mapping)})
        self._server = None
        mean = result.mean()
        update = {k: torch.from_numpy(v).to(state[k].dtype if k in state else torch.float32) for k, v in mean.items()}
        total = sum(result.num_examples.values())
        self._rounds.append(
            {
                "round": rnd,
                "sites": list(result.sites),
                "recovered": list(result.recovered),
                "threshold": threshold,
            }
        )
        return AggregationResult(
            update=update,
            weights={s: n / total for s, n in result.num_examples.items()},
            info={"secagg_sites": float(len(result.sites)), "secagg_recovered": float(len(result.recovered))},
        )

    def _limits(self, timeout: int, wait: int) -> tuple[int, int]:
        """The stage's timeout and wait after the threshold answered: this study's, else the round's."""
        return self.timeout_s or timeout, int(self.wait_after_min_s if self.wait_after_min_s is not None else wait)

    def provenance(self) -> dict[str, Any]:
        """What the signed model records: the ring and, per round, the survivors and the recovered sites."""
        if not self.active:
            return {}
        protocol = "pairwise masking (Bonawitz et al. 2017)"
        return {"protocol": protocol, "ring": self.ring.to_json(), "rounds": list(self._rounds)}

    def round_line(self) -> dict[str, Any]:
        """The last round's entry (for ``rounds.jsonl``)."""
        return dict(self._rounds[-1]) if self.active and self._rounds else {}

    @staticmethod
    def _stage(
        ctrl: Broadcaster,
        task: str,
        message: Mapping[str, Any],
        targets: list[str],
        threshold: int,
        timeout: int,
        wait: int,
    ) -> dict[str, Mapping[str, Any]]:
        """Broadcast one stage; each replying site's ``fednode_secagg`` message (site -> message)."""
        round_ = message.get("round", (message.get("context") or {}).get("round"))
        data = FLModel(params={}, params_type=ParamsType.FULL, current_round=round_, meta={META_KEY: dict(message)})
        results = ctrl.broadcast_model(
            task_name=task,
            data=data,
            targets=targets,
            min_responses=min(threshold, len(targets)),
            timeout=timeout,
            wait_time_after_min_received=wait,
        )
        replies: dict[str, Mapping[str, Any]] = {}
        for res in results:
            meta = res.meta or {}
            site, reply = str(meta.get("client_name", "")), meta.get(META_KEY)
            if site in targets and isinstance(reply, Mapping) and site not in replies:
                replies[site] = reply
        return replies
