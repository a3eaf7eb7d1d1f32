"""The coordinator's side of cross-site evaluation and the model card (hooks the controller calls at the end).

After the last round :func:`run_validation` sends the final global model to every connected site in the ``validate``
task (NVFlare's cross-site validation pattern, :data:`node.kit.crosssite.VALIDATE_TASK`) and reads back each site's
released figures; :func:`write_study_card` then builds the model card (:mod:`node.coordinator.model_card`) from
them, the rounds, the approvals and the study's own settings, writes it beside the model and returns the files'
digests, which the provenance signs with the model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType

from fednode.errors import FednodeError
from node.coordinator.model import to_wire
from node.coordinator.model_card import CardInputs, build_card, write_card
from node.coordinator.signing import RoundRecord
from node.kit.crosssite import CROSS_SITE_METRICS, SiteEvaluation, unflatten
from node.kit.layout import COORDINATOR_KEY_DIR
from policies.keys import load_or_create_site_key

if TYPE_CHECKING:
    from node.coordinator.controller import FednodeController

log = logging.getLogger("fednode.node.coordinator.crosssite")


def evaluations_from(results: Sequence[FLModel]) -> dict[str, SiteEvaluation]:
    """Each answering site's figures (results without cross-site metrics are skipped)."""
    out: dict[str, SiteEvaluation] = {}
    for res in results:
        site = str((res.meta or {}).get("client_name", ""))
        metrics = res.metrics or {}
        if site and any(k in CROSS_SITE_METRICS for k in metrics):
            out[site] = unflatten(metrics)
    return out


def run_validation(controller: FednodeController, state: Mapping[str, torch.Tensor]) -> dict[str, SiteEvaluation]:
    """Send the final model in the ``validate`` task to the connected sites; their figures by site. Nothing when
    the study has no validation task; a site that does not answer is missing from the result (the card says so)."""
    if not controller.validate_task:
        return {}
    targets = sorted(c.name for c in controller.engine.get_clients())
    if not targets:
        return {}
    task = FLModel(
        params=to_wire(state),
        params_type=ParamsType.FULL,
        current_round=controller.num_rounds,
        total_rounds=controller.num_rounds,
        meta={},
    )
    results = controller.broadcast_model(
        task_name=controller.validate_task,
        data=task,
        targets=targets,
        min_responses=min(controller.min_clients, len(targets)),
        timeout=controller.round_timeout_s,
        wait_time_after_min_received=controller.wait_after_min_s,
    )
    evaluations = evaluations_from(results or [])
    controller.info(f"fednode.cross_site_done sites={','.join(sorted(evaluations)) or '-'} asked={len(targets)}")
    return evaluations


def _secure_aggregation(controller: FednodeController) -> Mapping[str, Any] | None:
    """Hook for secure aggregation: what its coordinator part reports for the provenance, when it was on."""
    secagg = getattr(controller, "_secagg", None)
    report = getattr(secagg, "provenance", None)
    if not callable(report) or not getattr(secagg, "active", False):
        return None
    value = report()
    return dict(value) if isinstance(value, Mapping) else {"reported": str(value)}


def write_study_card(
    controller: FednodeController,
    *,
    meta: Mapping[str, Any],
    records: Sequence[RoundRecord],
    all_sites: Sequence[str],
    approvals: Mapping[str, Mapping[str, Any]],
    job_id: str,
    digest: str,
) -> dict[str, str]:
    """Build and write the model card into the run folder; the files' digests (empty when the study asked for
    neither cross-site evaluation nor limitations, i.e. a study built before the card existed)."""
    if not controller.validate_task and not controller.limitations:
        return {}
    run_dir = Path(controller.get_run_dir())
    key = load_or_create_site_key(Path(controller.engine.get_workspace().get_root_dir()) / COORDINATOR_KEY_DIR)
    inputs = CardInputs(
        study=controller.study or str(meta.get("name", "")),
        job_id=job_id,
        job_digest=digest,
        algorithm=controller.algorithm,
        algorithm_args=controller.algorithm_args,
        sites=tuple(all_sites),
        rounds=tuple(records),
        rounds_planned=controller.num_rounds,
        quorum=controller.min_clients,
        approvals=approvals,
        evaluations=controller.evaluations,
        limitations=controller.limitations or "(the submitter wrote none)",
        base_checkpoint=controller.model_spec,
        spread_threshold=controller.spread_threshold,
        coordinator_key_id=key.key_id,
        secure_aggregation=_secure_aggregation(controller),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    try:
        card = build_card(inputs)
    except FednodeError as exc:  # the model is still signed; the card's absence is logged
        controller.error(f"fednode.model_card_failed reason={exc.message}")
        return {}
    digests = write_card(run_dir, card)
    flagged = len(card["evaluation"]["findings"])
    controller.info(f"fednode.model_card_written sites={len(card['sites'])} flagged={flagged}")
    return digests
