"""The appliance's built-in, reviewed NER trainer as an NVFlare ``Executor`` (config-only jobs name it by path).

Each ``train`` task carries the global weights (a ``WEIGHTS`` DXO of numpy arrays, as ``FednodeController`` sends
them). The executor trains :mod:`node.ml.ner` locally on this site's examples, read from the site's OMOP CDM
(de-identified NOTE text + NOTE_NLP gold spans), and returns the update as a ``WEIGHT_DIFF`` with numeric
metrics only. Every round is recorded in the job registry (``record_round``).

Differential privacy is the site's, not the job's: when the site policy requires DP (or the job declares it) the
parameters are the stricter of the declared ones and the policy's (noise at least ``min_noise_multiplier``,
clipping at most ``max_grad_norm``, the policy's ``delta`` and accountant), the accountant continues from the
privacy ledger's history for the dataset, the dataset's budget caps the run, and the steps taken are written back
to the ledger. SCAFFOLD control variates stay at the site between rounds; only their difference is sent.

Each result also carries the site's signed approval receipt for the job and a fresh signed head of the site's
audit chain (:mod:`node.site.receipts`), which the egress guard checks; the coordinator records the receipt in the
signed model's provenance and keeps and countersigns the head (:mod:`node.coordinator.anchors`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch
from nvflare.apis.dxo import DataKind, MetaKey, from_shareable
from nvflare.apis.executor import Executor
from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable, make_reply
from nvflare.apis.signal import Signal
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from nvflare.app_common.app_constant import AlgorithmConstants, AppConstants
from nvflare.app_common.utils.fl_model_utils import FLModelUtils

from fednode.errors import ConfigError, FednodeError
from node.kit.meta import HEAD_META_KEY, RECEIPT_META_KEY
from node.ml.fine_tuning import check_fine_tuning
from node.ml.ner.dp import DpRun, HistoryEntry
from node.ml.ner.encoding import EncodedDataset
from node.ml.ner.model import NerModel, StateDict, load_ner_model
from node.ml.ner.train import ScaffoldControls, TrainConfig, encode_for, train_local
from node.ml.secagg import TASKS as SECAGG_TASKS
from node.site.context import SiteContext, UsesSiteContext
from node.site.secagg import answer_task
from policies.contracts import DpParams, RoundReport
from policies.ledger import PrivacyLedger
from policies.policy_model import DpSection, EvaluationSection

log = logging.getLogger("fednode.node.site.executor")

SITE_MODEL = "site"
"""``model_spec`` that means "the checkpoint folder this site configured" (``settings.fl.model_dir``)."""
NUM_EXAMPLES_KEY = "num_examples"


class LedgerAccountantStore:
    """The privacy ledger as the trainer's accountant store (steps recorded with the trainer as actor)."""

    def __init__(self, ledger: PrivacyLedger, *, actor: str = "trainer") -> None:
        self._ledger = ledger
        self._actor = actor

    def accountant_history(self, dataset: str) -> Sequence[HistoryEntry]:
        return self._ledger.accountant_history(dataset)

    def record_steps(self, job_id: str, dataset: str, noise_multiplier: float, sample_rate: float, steps: int) -> None:
        self._ledger.record_steps(job_id, dataset, noise_multiplier, sample_rate, steps, actor=self._actor)


def site_dp_params(policy_dp: DpSection, declared: DpParams | None, *, dataset_budget: float) -> DpParams | None:
    """The DP parameters this site imposes: the stricter of the job's declaration and the site policy.

    ``None`` when the policy does not require DP and the job declares none.
    """
    if declared is None and not policy_dp.required:
        return None
    noise = max(declared.noise_multiplier if declared else 1.0, policy_dp.min_noise_multiplier)
    clip = min(declared.max_grad_norm, policy_dp.max_grad_norm) if declared else policy_dp.max_grad_norm
    delta = min(declared.delta, policy_dp.delta) if declared else policy_dp.delta
    return DpParams(
        noise_multiplier=noise,
        max_grad_norm=clip,
        target_epsilon=dataset_budget,
        delta=delta,
        sample_rate=declared.sample_rate if declared else 0.0,
        steps=declared.steps if declared else 0,
        accountant=policy_dp.accountant,
    )


def to_torch(params: Mapping[str, Any]) -> StateDict:
    """Numpy arrays (or tensors) from the task data to torch tensors."""
    out: StateDict = {}
    for name, value in params.items():
        if isinstance(value, torch.Tensor):
            out[name] = value.detach().cpu()
        elif isinstance(value, np.ndarray):
            out[name] = torch.from_numpy(np.ascontiguousarray(value))
        else:
            raise ConfigError(f"global model entry {name!r} is not an array")
    return out


def to_numpy(state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray[Any, Any]]:
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


class NerExecutor(Executor, UsesSiteContext):  # type: ignore[misc]  # nvflare is untyped
    """Train the NER model on this site's CDM for each ``train`` task.

    Args (JSON, from the job's ``config_fed_client.json``; shown to reviewers):
        model_spec: ``"minilm"`` (bundled), ``"tiny"`` (tests), ``"site"`` (``settings.fl.model_dir``) or a folder.
        local_epochs, batch_size, learning_rate, seed, fedprox_mu: local training (``node.ml.ner.train.TrainConfig``).
        max_examples: use at most this many local examples (benchmarks, tests).
        max_steps: stop each round after this many optimiser steps (benchmarks, tests).
        schedule, head_lr, subword_labels: fine-tuning options (``node.ml.fine_tuning``: ``constant``/``linear``,
            the head's own learning rate, ``first``/``continue``); ``model_spec`` ending in ``+crf`` adds a CRF.
        task_name: the task this executor answers.
        validate_task: the cross-site evaluation task this executor also answers (``"validate"``; empty: none).
            With one, the site's held-back notes are left out of training (:mod:`node.site.validation`).
    """

    def __init__(
        self,
        model_spec: str = "minilm",
        local_epochs: int = 1,
        batch_size: int = 16,
        learning_rate: float = 5e-5,
        seed: int = 0,
        fedprox_mu: float = 0.0,
        max_examples: int | None = None,
        max_steps: int | None = None,
        task_name: str = "train",
        validate_task: str = "",
        schedule: str = "constant",
        head_lr: float | None = None,
        subword_labels: str = "first",
        *,
        context: SiteContext | None = None,
    ) -> None:
        super().__init__()
        names = {k: f"executor argument {k}" for k in ("schedule", "head_lr", "subword_labels")}
        check_fine_tuning(schedule=schedule, head_lr=head_lr, subword_labels=subword_labels, names=names)
        self.model_spec = model_spec
        self.config = TrainConfig(
            epochs=local_epochs,
            batch_size=batch_size,
            lr=learning_rate,
            seed=seed,
            fedprox_mu=fedprox_mu,
            max_steps=max_steps,
            schedule=schedule,
            head_lr=float(head_lr) if head_lr is not None else None,
            subword_labels=subword_labels,
        )
        self.max_examples = max_examples
        self.task_name = task_name
        self.validate_task = validate_task
        self._context = context
        self._model: NerModel | None = None
        self._data: EncodedDataset | None = None
        self._local_control: StateDict = {}

    # --- NVFlare entry point ------------------------------------------------------------------------------------

    def execute(self, task_name: str, shareable: Shareable, fl_ctx: FLContext, abort_signal: Signal) -> Shareable:
        if self.validate_task and task_name == self.validate_task:
            from node.site.validation import answer_validate

            return answer_validate(self, str(fl_ctx.get_job_id() or ""), shareable, abort_signal)
        if task_name in SECAGG_TASKS:  # secure aggregation's key, share and unmask stages (node.site.secagg)
            return answer_task(task_name, shareable, fl_ctx, self.context, lambda: len(self._prepare()[1]))
        if task_name != self.task_name:
            return make_reply(ReturnCode.TASK_UNKNOWN)
        job_id = str(fl_ctx.get_job_id() or "")
        round_ = shareable.get_header(AppConstants.CURRENT_ROUND, 0)
        try:
            dxo = from_shareable(shareable)
            if dxo.data_kind != DataKind.WEIGHTS:
                return make_reply(ReturnCode.BAD_TASK_DATA)
            result = self.train_round(job_id, int(round_ or 0), dxo.data, dxo.meta, abort_signal)
        except FednodeError as exc:
            log.error("executor.round_failed job=%s round=%s kind=%s reason=%s", job_id, round_, exc.title, exc.message)
            return make_reply(ReturnCode.EXECUTION_EXCEPTION)
        if result is None:
            return make_reply(ReturnCode.TASK_ABORTED)
        return FLModelUtils.to_shareable(result)

    # --- one round (plain method: tests and the simulator drive it) ------------------------------------------------

    def train_round(
        self,
        job_id: str,
        round_: int,
        global_params: Mapping[str, Any],
        task_meta: Mapping[str, Any],
        abort_signal: Signal | None = None,
    ) -> FLModel | None:
        """Train one round from ``global_params``; ``None`` if aborted."""
        model, data = self._prepare()
        global_state = to_torch(global_params)
        scaffold = self._scaffold(task_meta)
        dp = self._dp_run(job_id)
        if abort_signal is not None and abort_signal.triggered:
            return None
        config = replace(self.config, seed=self.config.seed + round_)
        local = train_local(global_state, data, config, model=model, scaffold=scaffold, dp=dp, desc=f"round {round_}")
        if abort_signal is not None and abort_signal.triggered:
            return None
        metrics = {k: float(v) for k, v in local.metrics.items() if math.isfinite(float(v))}
        meta: dict[str, Any] = {NUM_EXAMPLES_KEY: local.num_examples, MetaKey.NUM_STEPS_CURRENT_ROUND: local.num_steps}
        if local.control_delta is not None and local.local_control is not None:
            self._local_control = dict(local.local_control)
            meta[AlgorithmConstants.SCAFFOLD_CTRL_DIFF] = to_numpy(local.control_delta)
        receipt = self._receipt(job_id)
        if receipt is not None:
            meta[RECEIPT_META_KEY] = receipt
        issuer = self.context.receipts
        head = issuer.signed_head() if issuer is not None else None
        if head is not None:
            meta[HEAD_META_KEY] = head
        update = to_numpy(local.update)
        self._report(job_id, round_, metrics, sum(int(a.nbytes) for a in update.values()))
        log.info("executor.round_done job=%s round=%d examples=%d", job_id, round_, local.num_examples)
        return FLModel(params=update, params_type=ParamsType.DIFF, metrics=metrics, meta=meta, current_round=round_)

    # --- helpers -------------------------------------------------------------------------------------------------

    def _prepare(self) -> tuple[NerModel, EncodedDataset]:
        """Load the model and this site's examples once per job process."""
        if self._model is None or self._data is None:
            from omop_etl.db import make_engine

            settings = self.context.settings
            if settings is None:
                raise ConfigError("the trainer needs the site settings (CDM URL, model folder, device)")
            spec: str = self.model_spec
            if spec == SITE_MODEL:
                if settings.fl.model_dir is None:
                    raise ConfigError("model_spec 'site' needs settings.fl.model_dir")
                spec = str(settings.fl.model_dir)
            if settings.fl.torch_threads:
                # Several sites on one machine (the demo) oversubscribe the cores with torch's default threads.
                torch.set_num_threads(settings.fl.torch_threads)
            model = load_ner_model(spec, device=settings.fl.device, seed=self.config.seed)
            engine = make_engine(settings.omop_db_url)
            try:
                examples = self._training_examples(engine)
            finally:
                engine.dispose()
            if self.max_examples is not None:
                examples = examples[: self.max_examples]
            if not examples:
                raise ConfigError("the site's CDM holds no annotated notes to train on")
            self._model, self._data = model, encode_for(examples, model)
            log.info("executor.ready model=%s examples=%d", self.model_spec, len(examples))
        return self._model, self._data

    def _training_examples(self, engine: Any) -> list[Any]:
        """Every note's examples; with cross-site evaluation, the held-back notes left out."""
        if not self.validate_task:
            from node.ml.ner.cdm import examples_from_cdm

            return examples_from_cdm(engine)
        from node.site.validation import training_examples

        policy = self.context.policy
        section = policy.evaluation if policy is not None else EvaluationSection()
        return training_examples(engine, site=self.context.site_name, section=section)

    def _scaffold(self, task_meta: Mapping[str, Any]) -> ScaffoldControls | None:
        global_control = task_meta.get(AlgorithmConstants.SCAFFOLD_CTRL_GLOBAL)
        if not isinstance(global_control, Mapping):
            return None
        return ScaffoldControls(global_control=to_torch(global_control), local_control=self._local_control)

    def _dp_run(self, job_id: str) -> DpRun | None:
        context = self.context
        policy, ledger = context.policy, context.ledger
        record = context.lookup(job_id)
        declared = record.manifest.dp if record is not None else None
        if policy is None or ledger is None:
            if declared is not None:
                raise ConfigError("the job declares DP but this site has no policy or ledger to account it")
            return None
        dataset = record.manifest.dataset if record is not None else "omop"
        params = site_dp_params(policy.privacy.dp, declared, dataset_budget=ledger.budget_of(dataset))
        if params is None:
            return None
        return DpRun(params=params, store=LedgerAccountantStore(ledger), dataset=dataset, job_id=job_id)

    def _receipt(self, job_id: str) -> dict[str, Any] | None:
        """This site's signed approval receipt for the job, if it has a signer and an approved record of it."""
        issuer = self.context.receipts
        return issuer.for_job(job_id) if issuer is not None else None

    def _report(self, job_id: str, round_: int, metrics: dict[str, float], nbytes: int) -> None:
        report = RoundReport(job_id=job_id, round=round_, metrics=metrics, bytes_sent=nbytes, at=datetime.now(UTC))
        try:
            self.context.jobs.record_round(report)
        except FednodeError as exc:  # the round happened; the dashboard misses one row, training goes on
            log.warning("executor.round_not_recorded job=%s round=%d kind=%s", job_id, round_, exc.title)
