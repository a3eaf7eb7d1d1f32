"""Local training at one site: plain, FedProx (proximal term) and SCAFFOLD (control variates), optionally DP-SGD.

Weights come in and go out as plain state dicts; nothing here knows about NVFlare.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812  # torch's own convention
from tqdm import tqdm

from fednode.errors import ConfigError, NerDataError
from node.ml.aggregation import difference
from node.ml.ner.crf import crf_loss, crf_of
from node.ml.ner.data import NerExample
from node.ml.ner.dp import DpRun, check_budget, epsilon_of, freeze_embeddings
from node.ml.ner.encoding import Encoded, EncodedDataset, collate, encode
from node.ml.ner.labels import IGNORE_INDEX
from node.ml.ner.model import NerModel, StateDict
from node.ml.ner.schedule import linear_schedule, param_groups, warmup_steps
from node.ml.ner.subwords import SUBWORD_MODES, relabel

log = logging.getLogger("fednode.node.ml.ner.train")


SCHEDULES: tuple[str, ...] = ("constant", "linear")
"""Learning-rate schedules of one local training call (``linear``: warm-up then linear decay)."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one local training call.

    ``fedprox_mu`` > 0 adds FedProx's proximal term ``μ/2·||w - w_global||²``. ``bf16`` runs the forward pass
    under bfloat16 autocast (not with DP). ``max_grad_norm`` clips the batch gradient (non-DP runs; DP-SGD clips
    per sample with the policy's value instead). ``max_steps`` stops early (benchmarks, tests).

    Fine-tuning options (``node.ml.ner.schedule``, ``node.ml.ner.subwords``), each off by default:
    ``schedule="linear"`` warms the learning rate up over ``warmup_ratio`` of this call's steps, then decays it
    linearly to 0; ``head_lr`` gives the classifier and CRF their own learning rate (and exempts biases and
    LayerNorm weights from weight decay); ``subword_labels="continue"`` also trains the later sub-words of each
    word (first-piece decoding is unchanged). A model with a CRF layer is trained on the CRF likelihood over the
    first pieces (plus, with ``continue``, cross-entropy on the later pieces).
    """

    epochs: int = 1
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    max_grad_norm: float | None = 1.0
    fedprox_mu: float = 0.0
    seed: int = 0
    bf16: bool = False
    max_steps: int | None = None
    schedule: str = "constant"
    warmup_ratio: float = 0.1
    head_lr: float | None = None
    subword_labels: str = "first"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.fedprox_mu < 0:
            raise ConfigError("epochs and batch_size must be >= 1, lr > 0 and fedprox_mu >= 0")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not 0 <= self.warmup_ratio < 1 or (self.head_lr is not None and self.head_lr <= 0):
            raise ConfigError("warmup_ratio must be in [0, 1) and head_lr > 0")
        if self.subword_labels not in SUBWORD_MODES:
            raise ConfigError(f"subword_labels must be one of {', '.join(SUBWORD_MODES)}, got {self.subword_labels!r}")


@dataclass(frozen=True)
class ScaffoldControls:
    """SCAFFOLD's control variates for one call: the server's ``c`` and this site's ``c_i`` (empty = zeros)."""

    global_control: StateDict
    local_control: StateDict


@dataclass(frozen=True)
class LocalResult:
    """What one local training call produced.

    ``update`` = local - global weights over the floating-point state-dict entries (send this);
    ``control_delta`` (SCAFFOLD) = new ``c_i`` - old ``c_i`` (send this too) and ``local_control`` the new
    ``c_i`` (keep it at the site). ``metrics`` are numbers only: ``train_loss``, ``steps``, ``seconds``, and
    ``epsilon`` with DP.
    """

    update: StateDict
    num_examples: int
    num_steps: int
    metrics: dict[str, float]
    control_delta: StateDict | None = None
    local_control: StateDict | None = None
    epsilon: float | None = None

    def weights(self, global_state: StateDict) -> StateDict:
        """The site's local weights (global + update), for transports that send weights rather than diffs."""
        from node.ml.aggregation import apply_update

        return apply_update(global_state, self.update)


def _token_loss(logits: torch.Tensor, labels: torch.Tensor, *, per_sample: bool) -> torch.Tensor:
    """Cross-entropy over labelled positions: token mean, or (DP) mean per sample then mean over the batch."""
    flat = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
    ).reshape(labels.shape)
    mask = (labels != IGNORE_INDEX).float()
    if not per_sample:
        return (flat * mask).sum() / mask.sum().clamp_min(1.0)
    return ((flat * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)).mean()


def _later_piece_loss(logits: torch.Tensor, labels: torch.Tensor, word_labels: torch.Tensor) -> torch.Tensor:
    """Token cross-entropy on the positions labelled only under sub-word labelling (the later pieces)."""
    later = torch.where(word_labels == IGNORE_INDEX, labels, torch.full_like(labels, IGNORE_INDEX))
    return _token_loss(logits, later, per_sample=False)


def _shuffled_batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[list[int]]:
    order = torch.randperm(n, generator=gen).tolist()
    for i in range(0, n, batch_size):
        yield order[i : i + batch_size]


def _poisson_batches(n: int, sample_rate: float, steps: int, gen: torch.Generator) -> Iterator[list[int]]:
    """Poisson sampling (each example joins each batch with probability q), as DP-SGD's accounting assumes."""
    for _ in range(steps):
        yield torch.nonzero(torch.rand(n, generator=gen) < sample_rate).flatten().tolist()


def _as_dataset(examples: Sequence[NerExample] | EncodedDataset, model: NerModel) -> EncodedDataset:
    if isinstance(examples, EncodedDataset):
        return examples
    return encode(examples, model.tokenizer)


def train_local(
    global_state: StateDict,
    examples: Sequence[NerExample] | EncodedDataset,
    config: TrainConfig,
    *,
    model: NerModel,
    scaffold: ScaffoldControls | None = None,
    dp: DpRun | None = None,
    progress: bool = False,
    desc: str = "train",
    update_on_device: bool = False,
    on_step: Callable[[int], bool] | None = None,
) -> LocalResult:
    """Train ``model`` from ``global_state`` on this site's examples and return the update.

    Deterministic for a given ``config.seed`` on a given device. With ``dp`` the embeddings are frozen, batches
    are Poisson-sampled at rate ``batch_size / n`` (or the policy's ``sample_rate``), per-sample gradients are
    clipped to the policy's ``max_grad_norm`` and noised with its ``noise_multiplier``; the ledger's history is
    restored into the accountant first, the budget is checked before the first step (BudgetExceededError), and
    the steps taken are recorded afterwards. FedProx under DP applies the proximal gradient as a separate,
    data-independent step after each noisy step (Opacus' per-sample clipping would otherwise drop it).
    The update is computed on the model's device and moved to the CPU unless ``update_on_device`` (a caller that
    serialises it straight from the device, as the in-process federation does). ``on_step(steps)`` runs after
    every optimizer step; returning True stops training there (early stopping, :mod:`node.ml.ner.finetune`).
    """
    first = _as_dataset(examples, model)
    data = relabel(first, config.subword_labels)
    n = len(data)
    if n == 0:
        raise NerDataError("no training examples")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model.load_state(global_state)
    net = model.model
    net.train()
    device = model.device
    # the global weights on the model's device, to take the update there (a device copy; the CPU needs none)
    base = global_state if device.type == "cpu" else {k: v.detach().clone() for k, v in net.state_dict().items()}
    pad_id = int(model.tokenizer.pad_token_id or 0)
    crf = crf_of(net)
    if crf is not None and dp is not None:
        raise ConfigError("DP-SGD does not support the CRF output layer (no per-sample gradients for it)")

    frozen: list[torch.nn.Parameter] = freeze_embeddings(net) if dp is not None else []
    try:
        named = [(name, p) for name, p in net.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        anchor = {name: p.detach().clone() for name, p in named} if (config.fedprox_mu > 0 or scaffold) else {}
        correction: dict[str, torch.Tensor] = {}
        if scaffold is not None:
            for name, p in named:
                c_g = scaffold.global_control.get(name)
                c_l = scaffold.local_control.get(name)
                zero = torch.zeros_like(p)
                correction[name] = (c_g.to(device) if c_g is not None else zero) - (
                    c_l.to(device) if c_l is not None else zero
                )
        if config.head_lr is None:
            optimizer: Any = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        else:
            groups = param_groups(named, lr=config.lr, head_lr=config.head_lr, weight_decay=config.weight_decay)
            optimizer = torch.optim.AdamW(groups, lr=config.lr)
        steps_per_epoch = math.ceil(n / config.batch_size)
        total_steps = steps_per_epoch * config.epochs
        if config.max_steps is not None:
            total_steps = min(total_steps, config.max_steps)

        forward_module: Any = net
        sample_rate = 0.0
        accountant: Any = None
        if dp is not None:
            sample_rate = _sample_rate(dp, n, config)
            check_budget(dp, sample_rate, total_steps)  # before any hook is attached or any step taken

        amp = torch.autocast(device_type=device.type, dtype=torch.bfloat16) if config.bf16 and dp is None else None
        losses: list[float] = []
        steps = 0
        bar = tqdm(total=total_steps, desc=desc, file=sys.stderr, disable=not progress, leave=False, unit="step")
        try:
            if dp is not None:
                forward_module, optimizer, accountant = _make_private(net, optimizer, dp, sample_rate, n, config)
            scheduler = (
                linear_schedule(optimizer, total_steps, warmup_steps(total_steps, config.warmup_ratio))
                if config.schedule == "linear"
                else None
            )
            stopped = False
            for _ in range(config.epochs):
                if stopped:
                    break
                if dp is not None:
                    batches: Iterator[list[int]] = _poisson_batches(n, sample_rate, steps_per_epoch, gen)
                else:
                    batches = _shuffled_batches(n, config.batch_size, gen)
                for idx in batches:
                    if steps >= total_steps:
                        break
                    steps += 1
                    bar.update(1)
                    if not idx:  # an empty Poisson batch: the step is counted (conservative), nothing moves
                        continue
                    batch = {k: v.to(device) for k, v in collate([data.encoded[i] for i in idx], pad_id).items()}
                    with amp if amp is not None else nullcontext():
                        logits = forward_module(
                            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                        ).logits
                    if crf is not None and data is not first:
                        # the CRF stays word-level (first pieces, as it decodes); later pieces train the emissions
                        word_labels = collate([first.encoded[i] for i in idx], pad_id)["labels"].to(device)
                        loss = crf_loss(crf, logits, word_labels) + _later_piece_loss(
                            logits, batch["labels"], word_labels
                        )
                    elif crf is not None:
                        loss = crf_loss(crf, logits, batch["labels"])
                    else:
                        loss = _token_loss(logits, batch["labels"], per_sample=dp is not None)
                    if config.fedprox_mu > 0 and dp is None:
                        prox = sum(((p - anchor[name]) ** 2).sum() for name, p in named)
                        loss = loss + 0.5 * config.fedprox_mu * prox
                    optimizer.zero_grad(set_to_none=True)
                    with warnings.catch_warnings():
                        # Opacus' hooks on the first trainable layer see inputs that need no grad (frozen
                        # embeddings): torch warns, the per-sample gradients are still right.
                        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
                        loss.backward()  # type: ignore[no-untyped-call]  # torch stub
                    if dp is None and config.max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                    optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                    with torch.no_grad():
                        if config.fedprox_mu > 0 and dp is not None:
                            for name, p in named:
                                p.sub_(config.lr * config.fedprox_mu * (p - anchor[name]))
                        for name, p in named:
                            if name in correction:
                                p.sub_(config.lr * correction[name])
                    losses.append(float(loss.detach()))
                    bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
                    if on_step is not None and on_step(steps):
                        stopped = True
                        break
        finally:
            bar.close()
            if dp is not None and hasattr(forward_module, "_close"):
                forward_module._close()  # remove Opacus hooks and per-sample grads from the shared model

        update = difference(net.state_dict(), base, to_cpu=not update_on_device)
        metrics = {
            "train_loss": sum(losses) / len(losses) if losses else float("nan"),
            "steps": float(steps),
            "seconds": time.perf_counter() - started,
        }
        control_delta: StateDict | None = None
        new_control: StateDict | None = None
        if scaffold is not None:
            control_delta, new_control = _scaffold_controls(named, anchor, correction, scaffold, steps, config.lr)
        epsilon: float | None = None
        if dp is not None:
            epsilon = _record_dp(dp, accountant, sample_rate, steps)
            metrics["epsilon"] = epsilon
        log.info("ner.local_trained examples=%d steps=%d loss=%.4f", n, steps, metrics["train_loss"])
        return LocalResult(update, n, steps, metrics, control_delta, new_control, epsilon)
    finally:
        for p in frozen:
            p.requires_grad_(True)


def _sample_rate(dp: DpRun, n: int, config: TrainConfig) -> float:
    """Poisson rate: the policy's, or batch_size / n."""
    p = dp.params
    if p.noise_multiplier <= 0 or p.max_grad_norm <= 0:
        raise ConfigError("DP needs a positive noise_multiplier and max_grad_norm")
    return p.sample_rate if p.sample_rate > 0 else min(1.0, config.batch_size / n)


def _make_private(
    net: torch.nn.Module, optimizer: torch.optim.Optimizer, dp: DpRun, sample_rate: float, n: int, config: TrainConfig
) -> tuple[Any, Any, Any]:
    """Wrap model and optimizer for DP-SGD; the accountant starts from the ledger's history."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    from node.ml.ner.dp import make_accountant

    p = dp.params
    expected = max(1, round(sample_rate * n))
    gsm = GradSampleModule(net, batch_first=True, loss_reduction="mean")
    dp_opt = DPOptimizer(
        optimizer,
        noise_multiplier=p.noise_multiplier,
        max_grad_norm=p.max_grad_norm,
        expected_batch_size=expected,
        loss_reduction="mean",
        generator=torch.Generator(device=next(net.parameters()).device).manual_seed(config.seed + 1),
    )
    accountant = make_accountant(p.accountant, dp.store.accountant_history(dp.dataset))
    dp_opt.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=sample_rate))
    return gsm, dp_opt, accountant


def _record_dp(dp: DpRun, accountant: Any, sample_rate: float, steps: int) -> float:
    """Write the steps to the ledger (all of them: an empty Poisson batch still counts) and return total ε."""
    p = dp.params
    if steps > 0:
        dp.store.record_steps(dp.job_id, dp.dataset, p.noise_multiplier, sample_rate, steps)
    history = list(dp.store.accountant_history(dp.dataset))
    epsilon = epsilon_of(p.accountant, history, p.delta)
    taken = sum(s for nm, q, s in accountant.history if (nm, q) == (p.noise_multiplier, sample_rate))
    log.info("ner.dp_spent dataset=%s steps=%d noisy_steps=%d epsilon=%.4f", dp.dataset, steps, taken, epsilon)
    return epsilon


def _scaffold_controls(
    named: Sequence[tuple[str, torch.nn.Parameter]],
    anchor: dict[str, torch.Tensor],
    correction: dict[str, torch.Tensor],
    scaffold: ScaffoldControls,
    steps: int,
    lr: float,
) -> tuple[StateDict, StateDict]:
    """SCAFFOLD option II: ``c_i⁺ = c_i - c + (x - y_i) / (K·lr)``; returns (c_i⁺ - c_i, c_i⁺)."""
    delta: StateDict = {}
    new: StateDict = {}
    for name, p in named:
        c_l = scaffold.local_control.get(name)
        old = c_l.to(p.device) if c_l is not None else torch.zeros_like(p)
        c_g = old + correction[name]  # correction = c - c_i
        fresh = old - c_g + (anchor[name] - p.detach()) / (max(steps, 1) * lr)
        new[name] = fresh.cpu()
        delta[name] = (fresh - old).cpu()
    return delta, new


def encode_for(examples: Sequence[NerExample], model: NerModel) -> EncodedDataset:
    """Encode once, reuse every round (``train_local`` and ``evaluate`` accept the result)."""
    return encode(examples, model.tokenizer)


__all__ = ["SCHEDULES", "Encoded", "LocalResult", "ScaffoldControls", "TrainConfig", "encode_for", "train_local"]
