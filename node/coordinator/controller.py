"""The coordinator's workflow: rounds of scatter-and-gather with fednode's aggregators, a quorum, a signed result.

Each round the controller sends the global weights to every connected site and waits for results. With
``min_clients`` below the number of sites the round closes once ``min_clients`` results are in and the others have
had ``wait_after_min_s`` more seconds: a site that drops out mid-round no longer stalls the study, and a site that
reconnects is sent the next round. Updates (local - global) go to :mod:`node.ml.aggregation` (FedAvg, FedProx,
SCAFFOLD, coordinate median, trimmed mean, geometric median, norm clipping, FLTrust) wrapped in its ``Quorum``.
FLTrust scores the sites against the coordinator's own update on its public root set
(:mod:`node.coordinator.root_set`), computed each round from the same global model. With ``eval_set`` (a CoNLL
file of public sentences at the coordinator, e.g. NCBI-disease devel) each new global model is scored there.

A round in which no site's result is usable (every one refused or blocked at its site, or rejected here), or
whose updates cannot be aggregated, ends the study: the reason is logged, written to ``run_status.json`` and the
job fails (NVFlare's ``FINISHED:EXECUTION_EXCEPTION``) instead of running on.

Each result carries a signed head of its site's audit chain. The controller keeps it in the coordinator's
:class:`~node.coordinator.anchors.AnchorBook` (verified against the site key pinned at provisioning) and sends the
countersigned anchors back with the next task (``fednode_anchors`` in the task meta); a head that does not verify,
goes backwards or forks is a tamper alarm and that site's result is refused (logged, counted as rejected).

At the end the weights are written as ``global_model.safetensors`` in the job's run folder with a provenance
manifest (job digest, sites per round, rounds, approvals: each site's signed approval receipt where its results
carried one; each site's last anchored audit head) signed with the coordinator's Ed25519 key
(:mod:`node.coordinator.signing`); ``audit_heads.json`` beside it holds every head kept during the job. Every round
also appends one JSON line to ``rounds.jsonl`` (numbers and site names).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from nvflare.app_common.app_constant import AlgorithmConstants
from nvflare.app_common.workflows.model_controller import ModelController

from fednode.errors import AuditChainError, FednodeError
from node.coordinator import crosssite
from node.coordinator.anchors import ANCHORS_DIR, HEADS_FILE, AnchorBook, pinned_site_keys
from node.coordinator.checkpoint import RunCheckpoint, for_run
from node.coordinator.credit import CreditConfig, CreditKeeper, open_keeper
from node.coordinator.model import build_initial_state, from_wire, state_nbytes, to_wire
from node.coordinator.provenance import approvals_from_meta, job_digest_from_meta, sign_final_model
from node.coordinator.root_set import DEFAULT_ROOT_SET, DEFAULT_ROOT_SIZE, RootSet, train_config
from node.coordinator.run_status import COMPLETED, FAILED, write_run_status
from node.coordinator.secagg import CoordinatorSecAgg
from node.coordinator.signing import RoundRecord
from node.kit.layout import COORDINATOR_KEY_DIR
from node.kit.meta import ANCHORS_META_KEY, HEAD_META_KEY, RECEIPT_META_KEY
from node.ml.aggregation import ClientUpdate, Scaffold, apply_update, make_aggregator
from node.ml.aggregation._types import Aggregator
from policies.anchors import Anchor
from policies.keys import load_or_create_site_key

ROUNDS_FILE = "rounds.jsonl"
NUM_EXAMPLES_KEY = "num_examples"
APPROVAL_META_KEY = RECEIPT_META_KEY


class FednodeController(ModelController):  # type: ignore[misc]  # nvflare is untyped
    """Scatter-and-gather over approved sites with a quorum and a robust aggregator; signs the final model."""

    def __init__(
        self,
        num_rounds: int = 3,
        min_clients: int = 1,
        algorithm: str = "fedavg",
        algorithm_args: Mapping[str, Any] | None = None,
        model_spec: str = "minilm",
        seed: int = 0,
        study: str = "",
        task_name: str = "train",
        round_timeout_s: int = 0,
        wait_after_min_s: int = 15,
        eval_set: str | None = None,
        eval_limit: int | None = None,
        root_set: str | None = None,
        root_size: int = DEFAULT_ROOT_SIZE,
        root_train: Mapping[str, Any] | None = None,
        validate_task: str = "",
        limitations: str = "",
        spread_threshold: float = 0.1,
        credit: Mapping[str, Any] | None = None,
        secure_aggregation: Mapping[str, Any] | None = None,
    ) -> None:
        """``root_set``/``root_size``/``root_train`` (FLTrust only): the coordinator's public CoNLL file (default:
        the bundled NCBI-disease devel set), how many of its first sentences to use, and the sites' training
        settings (executor argument names) for the root update. ``credit``: the sites' reliability record and
        policy (:class:`node.coordinator.credit.CreditConfig`)."""
        super().__init__(persistor_id="", ignore_result_error=True)
        if num_rounds < 1 or min_clients < 1:
            raise ValueError("num_rounds and min_clients must be at least 1")
        if root_size < 1:
            raise ValueError("root_size must be at least 1")
        self.num_rounds = num_rounds
        self.min_clients = min_clients
        self.algorithm = algorithm
        self.algorithm_args = dict(algorithm_args or {})
        self.model_spec = model_spec
        self.seed = seed
        self.study = study
        self.task_name = task_name
        self.round_timeout_s = round_timeout_s
        self.wait_after_min_s = wait_after_min_s
        self.eval_set = eval_set
        self.eval_limit = eval_limit
        self.root_set = root_set
        self.root_size = root_size
        self.root_train = dict(root_train or {})
        self.validate_task = validate_task
        """Cross-site evaluation after the last round, and the model card's inputs (node/coordinator/crosssite.py)."""
        self.limitations = limitations
        self.spread_threshold = spread_threshold
        self.evaluations: dict[str, Any] = {}
        self._credit = CreditKeeper(CreditConfig.from_args(credit, algorithm=algorithm))
        self._secagg = CoordinatorSecAgg(secure_aggregation)  # None: off (node/coordinator/secagg.py)
        self._receipts: dict[str, object] = {}
        self._book: AnchorBook | None = None
        self._kept: dict[str, list[Anchor]] = {}
        """The anchors kept during this job, per site."""
        self._refused: dict[str, str] = {}
        self._unanchored: set[str] = set()
        """The sites whose result was refused in the round being collected, and why."""
        self._evaluator: Any = None
        self._root: RootSet | None = None
        self._round: tuple[int, Mapping[str, torch.Tensor]] = (0, {})
        self._ckpt: RunCheckpoint | None = None
        """The per-round checkpoint (``node.coordinator.checkpoint``); a resumed job starts after its last round."""
        """The round in progress and the global state its sites started from (FLTrust's root update needs it)."""

    # -- the workflow ---------------------------------------------------------------------------------------
    def run(self) -> None:
        all_sites = sorted(c.name for c in self.engine.get_clients())
        records: list[RoundRecord] = []
        try:
            aggregator = self._make_aggregator(len(all_sites))
            if self._root is not None:
                self.info(f"fednode.root_set sentences={self._root.prepare()} file={self._root.path.name}")
        except FednodeError as exc:
            self._fail(records, f"the {self.algorithm} aggregator cannot start: {exc.message}")
            return
        refusal = self._secagg.refusal(self.algorithm, len(all_sites))
        if refusal is not None:  # never a silent fallback to aggregating updates in the clear
            self._fail(records, refusal)
            return
        self._book = self._anchor_book()
        self._credit = open_keeper(
            self._credit.config,
            Path(self.engine.get_workspace().get_root_dir()),
            job_id=str(self.fl_ctx.get_job_id()),
            study=self.study,
            model_spec=self.model_spec,
            root_set=Path(self.root_set) if self.root_set else DEFAULT_ROOT_SET,
            root_skip=self.root_size if self.algorithm == "fltrust" else 0,
            seed=self.seed,
            quorum=self.min_clients,
        )
        state = build_initial_state(self.model_spec, seed=self.seed)
        try:
            self._ckpt = self._open_checkpoint()
            first_round, state, records = self._ckpt.resume(aggregator, state)
        except FednodeError as exc:
            self._fail(records, f"the study cannot continue from its checkpoint: {exc.message}")
            return
        model_bytes = state_nbytes(state)
        self.info(f"fednode.study_started rounds={self.num_rounds} sites={len(all_sites)} algo={self.algorithm}")
        for rnd in range(first_round, self.num_rounds):
            if self.abort_signal.triggered:
                self.info("fednode.study_aborted")
                return
            targets = sorted(c.name for c in self.engine.get_clients())
            started = time.monotonic()
            self._round = (rnd, state)
            secagg_meta: dict[str, Any] = {}
            if self._secagg.active:
                try:
                    targets, secagg_meta = self._secagg.before_train(
                        self, str(self.fl_ctx.get_job_id()), rnd, targets, self.round_timeout_s, self.wait_after_min_s
                    )
                except FednodeError as exc:
                    self._fail(records, f"round {rnd}: secure aggregation: {exc.message}")
                    return
            task_model = FLModel(
                params=to_wire(state),
                params_type=ParamsType.FULL,
                current_round=rnd,
                total_rounds=self.num_rounds,
                meta={**self._task_meta(aggregator, targets), **secagg_meta},
            )
            results = self.broadcast_model(
                task_name=self.task_name,
                data=task_model,
                targets=targets,
                min_responses=min(self.min_clients, len(targets)),
                timeout=self.round_timeout_s,
                wait_time_after_min_received=self.wait_after_min_s,
            )
            if self.abort_signal.triggered:
                self.info("fednode.study_aborted")
                return
            updates, metrics = self._collect(results, state)
            collected = updates
            updates = self._credit.before_aggregate(
                rnd,
                targets,
                [str((r.meta or {}).get("client_name", "")) for r in results],
                updates,
                min_responses=min(self.min_clients, len(targets)),
                rejected=tuple(self._refused),
            )
            if not updates and self._refused:
                self._fail(records, f"round {rnd}: every result was refused: {'; '.join(self._refused.values())}")
                return
            if not updates:
                self._fail(
                    records,
                    f"round {rnd}: no usable result from any of the {len(targets)} sites "
                    "(each refused or blocked at its site, rejected here, or missing)",
                )
                return
            try:
                outcome = (
                    self._secagg.aggregate(self, rnd, state, self.round_timeout_s, self.wait_after_min_s)
                    if self._secagg.active
                    else aggregator.aggregate(updates)
                )
                self._credit.after_aggregate(aggregator, updates, outcome, state)
            except FednodeError as exc:
                self._fail(records, f"round {rnd}: aggregation refused: {exc.message}")
                return
            state = apply_update(state, outcome.update)
            arrived = tuple(sorted(u.site for u in collected))
            refused = tuple(sorted(self._refused))
            record = RoundRecord(
                round=rnd,
                sites=arrived,
                weights={**{u.site: 0.0 for u in collected}, **outcome.weights},
                missing=tuple(sorted(set(targets) - set(arrived) - set(refused))),
                rejected=tuple(sorted({*outcome.rejected, *refused})),
                metrics=metrics,
            )
            records.append(record)
            self._save_checkpoint(rnd, state, records, aggregator, outcome.info)
            scores = self._evaluate(state)
            self._append_round(record, time.monotonic() - started, model_bytes, len(targets), scores, outcome.info)
            self.info(f"fednode.round_done round={rnd} sites={','.join(arrived)} missing={len(record.missing)}")
        self.evaluations = crosssite.run_validation(self, state)
        self._sign(state, records, all_sites)

    def _accept_train_result(self, client_name: str, result: Any, fl_ctx: Any, is_unknown_task: bool = False) -> bool:
        """NVFlare's check of a reply's return code; an error reply (the site refused or failed to send) is counted
        in the site's credit record."""
        accepted = bool(super()._accept_train_result(client_name, result, fl_ctx, is_unknown_task))
        if not accepted and not is_unknown_task:
            self._credit.site_refused(client_name)
        return accepted

    # -- helpers ------------------------------------------------------------------------------------------
    def _sign(self, state: Mapping[str, torch.Tensor], records: list[RoundRecord], all_sites: list[str]) -> None:
        meta = self._job_meta()
        job_id, job_digest = str(self.fl_ctx.get_job_id()), job_digest_from_meta(meta)
        approvals = approvals_from_meta(meta, self._receipts, job_id=job_id, job_digest=job_digest)
        with_receipt = sorted(s for s, a in approvals.items() if a.get("evidence") == "signed_receipt")
        ignored = sorted(set(self._receipts) - set(with_receipt))
        if ignored:
            self.warning(f"fednode.receipts_ignored sites={','.join(ignored)} (another site, job or digest)")
        heads = self._write_heads(Path(self.get_run_dir()))
        card = crosssite.write_study_card(
            self, meta=meta, records=records, all_sites=all_sites, approvals=approvals, job_id=job_id, digest=job_digest
        )
        path = sign_final_model(
            run_dir=Path(self.get_run_dir()),
            key_dir=Path(self.engine.get_workspace().get_root_dir()) / COORDINATOR_KEY_DIR,
            state=state,
            job_id=job_id,
            job_digest=job_digest,
            study=self.study or str(meta.get("name", "")),
            algorithm=self.algorithm,
            rounds=tuple(records),
            sites=tuple(all_sites),
            approvals=approvals,
            audit_heads=heads,
            attachments=card,
            restarts=tuple(r.to_json() for r in self._ckpt.restarts) if self._ckpt else (),
            credit=self._credit.study_figures(),
            secure_aggregation=self._secagg.provenance(),
        )
        if self._ckpt is not None:
            self._ckpt.complete()
        write_run_status(Path(self.get_run_dir()), COMPLETED, len(records))
        self.info(f"fednode.model_signed file={path.name} receipts={','.join(with_receipt) or '-'}")

    def _fail(self, records: list[RoundRecord], reason: str) -> None:
        """End the study: log why, record it in ``run_status.json`` and fail the job (no model is signed)."""
        self.error(f"fednode.study_failed reason={reason}")
        try:
            write_run_status(Path(self.get_run_dir()), FAILED, len(records), reason)
        except OSError as exc:  # the job still fails; only the status file is missing
            self.warning(f"fednode.run_status_unwritten kind={type(exc).__name__}")
        self.panic(f"fednode study failed: {reason}")

    def _open_checkpoint(self) -> RunCheckpoint:
        meta = self._job_meta()
        return for_run(
            Path(self.engine.get_workspace().get_root_dir()),
            str(self.fl_ctx.get_job_id()),
            meta,
            job_digest=job_digest_from_meta(meta),
            study=self.study or str(meta.get("name", "")),
            algorithm=self.algorithm,
            num_rounds=self.num_rounds,
        )

    def _save_checkpoint(
        self, rnd: int, state: Mapping[str, torch.Tensor], records: list[RoundRecord], agg: Aggregator, info: Any
    ) -> None:
        """Persist the round, written while the next one runs (a failed write is logged; the study goes on)."""
        if self._ckpt is None:
            return
        try:
            self._ckpt.submit(rnd, state, records, agg, info)
            self.info(f"fednode.checkpoint round={rnd} blocked_s={self._ckpt.blocked_seconds:.3f}")
        except (OSError, FednodeError) as exc:
            self.error(f"fednode.checkpoint_failed round={rnd} kind={type(exc).__name__}")

    def _make_aggregator(self, total_sites: int) -> Aggregator:
        args = dict(self.algorithm_args)
        if self.algorithm == "scaffold":
            args.setdefault("total_sites", total_sites)
        elif self.algorithm == "fltrust":
            root = RootSet(
                path=Path(self.root_set) if self.root_set else DEFAULT_ROOT_SET,
                model_spec=self.model_spec,
                config=train_config(self.root_train),
                size=self.root_size,
                seed=self.seed,
            )
            self._root = root
            args["root_update"] = lambda: root.update(self._round[1], self._round[0])
        return make_aggregator(self.algorithm, min_clients=self.min_clients, **args)

    def _task_meta(self, aggregator: Aggregator, targets: list[str]) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        inner = getattr(aggregator, "inner", aggregator)
        if isinstance(inner, Scaffold) and inner.global_control:
            meta[AlgorithmConstants.SCAFFOLD_CTRL_GLOBAL] = to_wire(inner.global_control)
        anchors = self._anchors_for(targets)
        if anchors:
            meta[ANCHORS_META_KEY] = anchors
        return meta

    # -- the sites' audit heads -------------------------------------------------------------------------------
    def _anchor_book(self) -> AnchorBook:
        """The coordinator's book of site heads: pinned keys and the model-signing key from the server kit."""
        root = Path(self.engine.get_workspace().get_root_dir())
        pinned = pinned_site_keys(root)
        key = load_or_create_site_key(root / COORDINATOR_KEY_DIR)
        self.info(f"fednode.anchors pinned_sites={','.join(sorted(pinned)) or '-'}")
        return AnchorBook(root / ANCHORS_DIR, pinned, key)

    def _anchors_for(self, targets: list[str]) -> dict[str, Any]:
        """The last countersigned head kept for each target site (sent back with the task; each site keeps its
        own)."""
        if self._book is None:
            return {}
        out: dict[str, Any] = {}
        for site in targets:
            try:
                last = self._book.last(site)
            except FednodeError as exc:
                self.warning(f"fednode.anchors_unreadable site={site} reason={exc.message}")
                continue
            if last is not None:
                out[site] = last.to_json()
        return out

    def _anchor(self, site: str, meta: Mapping[str, Any]) -> str | None:
        """Keep ``site``'s signed audit heads from a result (the result's and its receipt's); why the result must be
        refused, or ``None``."""
        if self._book is None:
            return None
        if not self._book.is_pinned(site):
            if site not in self._unanchored:
                self._unanchored.add(site)
                self.warning(f"fednode.anchors_unpinned site={site} (no pinned key: its audit heads are not anchored)")
            return None
        receipt = meta.get(RECEIPT_META_KEY)
        body = receipt.get("body") if isinstance(receipt, Mapping) else None
        receipt_head = body.get("audit_head") if isinstance(body, Mapping) else None
        try:
            if isinstance(receipt_head, Mapping) and "signature" in receipt_head:
                self._keep(site, self._book.accept(site, receipt_head))
            self._keep(site, self._book.accept(site, meta.get(HEAD_META_KEY)))
        except AuditChainError as exc:
            return exc.message
        return None

    def _keep(self, site: str, anchor: Anchor | None) -> None:
        if anchor is not None:
            kept = self._kept.setdefault(site, [])
            if anchor not in kept:
                kept.append(anchor)

    def _write_heads(self, run_dir: Path) -> dict[str, dict[str, Any]]:
        """Write ``audit_heads.json`` (every head kept in this job, per site); return each site's last anchor."""
        heads = {site: [a.to_json() for a in anchors] for site, anchors in sorted(self._kept.items())}
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / HEADS_FILE).write_text(json.dumps({"heads": heads}, indent=2, sort_keys=True), encoding="utf-8")
        return {site: max(anchors, key=lambda a: a.head.seq).to_json() for site, anchors in sorted(self._kept.items())}

    def _collect(
        self, results: list[FLModel], state: Mapping[str, torch.Tensor]
    ) -> tuple[list[ClientUpdate], dict[str, dict[str, float]]]:
        updates: list[ClientUpdate] = []
        metrics: dict[str, dict[str, float]] = {}
        self._refused = {}
        for res in results:
            meta = res.meta or {}
            site = str(meta.get("client_name", ""))
            if not site or not res.params:
                self.warning(f"fednode.empty_result site={site or '?'}")
                continue
            refusal = self._anchor(site, meta)
            if refusal is not None:
                self._refused[site] = refusal
                self.error(f"fednode.result_refused site={site} reason={refusal}")
                continue
            params = self._secagg.take(site, res.params, meta) if self._secagg.active else from_wire(res.params)
            if res.params_type == ParamsType.DIFF:
                update = {k: v.to(state[k].dtype) for k, v in params.items() if k in state}
            else:
                update = {
                    k: (v - state[k]).to(state[k].dtype)
                    for k, v in params.items()
                    if k in state and torch.is_floating_point(state[k])
                }
            control = meta.get(AlgorithmConstants.SCAFFOLD_CTRL_DIFF)
            num = meta.get(NUM_EXAMPLES_KEY, meta.get("NUM_STEPS_CURRENT_ROUND", 1))
            updates.append(
                ClientUpdate(
                    site=site,
                    update=update,
                    num_examples=max(1, int(num)),
                    control_delta=from_wire(control) if isinstance(control, Mapping) else None,
                )
            )
            metrics[site] = {k: float(v) for k, v in (res.metrics or {}).items() if isinstance(v, int | float)}
            receipt = meta.get(RECEIPT_META_KEY)
            if isinstance(receipt, Mapping):
                self._receipts[site] = receipt
        return updates, metrics

    def _evaluate(self, state: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """Entity-level scores of the new global model on the coordinator's public evaluation set, if any."""
        if not self.eval_set:
            return {}
        from node.ml.ner.data import read_conll
        from node.ml.ner.evaluate import evaluate
        from node.ml.ner.model import load_ner_model
        from node.ml.ner.train import encode_for

        if self._evaluator is None:
            model = load_ner_model(self.model_spec, seed=self.seed)
            self._evaluator = (model, encode_for(read_conll(Path(self.eval_set), limit=self.eval_limit), model))
        model, data = self._evaluator
        return {k: float(v) for k, v in evaluate(dict(state), data, model=model).metrics().items()}

    def _append_round(
        self,
        record: RoundRecord,
        seconds: float,
        model_bytes: int,
        targets: int,
        scores: Mapping[str, float],
        info: Mapping[str, float],
    ) -> None:
        line = {
            "aggregation": {k: float(v) for k, v in info.items()},
            "global": dict(scores),
            "round": record.round,
            "sites": list(record.sites),
            "missing": list(record.missing),
            "rejected": list(record.rejected),
            "weights": dict(record.weights),
            "metrics": {k: dict(v) for k, v in record.metrics.items()},
            "seconds": round(seconds, 3),
            "model_bytes": model_bytes,
            "payload_bytes": model_bytes * (targets + len(record.sites)),
            "at": datetime.now(UTC).isoformat(),
        }
        if self._credit.round_line():
            line["credit"] = self._credit.round_line()
        with (Path(self.get_run_dir()) / ROUNDS_FILE).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, sort_keys=True) + "\n")

    def _job_meta(self) -> dict[str, Any]:
        path = Path(self.engine.get_workspace().get_job_meta_path(self.fl_ctx.get_job_id()))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            self.warning("fednode.job_meta_unreadable")
            return {}
        return data if isinstance(data, dict) else {}
