"""DP-SGD with Opacus: the site's privacy parameters, and an accountant that survives rounds and jobs.

The accountant's history lives in the site's privacy ledger (``policies.ledger``), behind the
:class:`AccountantStore` protocol: before training the Opacus accountant is rebuilt from every earlier step on
the dataset, after training the new steps are written back. Opacus is imported only when DP is used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch

from fednode.errors import BudgetExceededError, ConfigError

if TYPE_CHECKING:
    from policies.contracts import DpParams

log = logging.getLogger("fednode.node.ml.ner.dp")

HistoryEntry = tuple[float, float, int]
"""One accountant history entry: (noise_multiplier, sample_rate, steps)."""


class AccountantStore(Protocol):
    """Where the site keeps every DP-SGD step taken on a dataset (implemented by ``policies.ledger``)."""

    def accountant_history(self, dataset: str) -> Sequence[HistoryEntry]:
        """Every (noise_multiplier, sample_rate, steps) entry recorded for ``dataset``, oldest first."""
        ...

    def record_steps(self, job_id: str, dataset: str, noise_multiplier: float, sample_rate: float, steps: int) -> None:
        """Append the steps a job just took on ``dataset``."""
        ...


@dataclass
class MemoryAccountantStore:
    """An in-process store, for the experiments (a site uses the persistent ledger)."""

    entries: dict[str, list[HistoryEntry]] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)

    def accountant_history(self, dataset: str) -> Sequence[HistoryEntry]:
        return list(self.entries.get(dataset, []))

    def record_steps(self, job_id: str, dataset: str, noise_multiplier: float, sample_rate: float, steps: int) -> None:
        self.entries.setdefault(dataset, []).append((noise_multiplier, sample_rate, steps))
        self.jobs.append(job_id)


@dataclass(frozen=True)
class DpRun:
    """DP settings for one local training call: the policy's parameters, the ledger, and what is trained on."""

    params: DpParams
    store: AccountantStore
    dataset: str
    job_id: str


def make_accountant(kind: str, history: Sequence[HistoryEntry]) -> Any:
    """An Opacus accountant (``prv`` or ``rdp``) whose history is ``history``."""
    from opacus.accountants import create_accountant

    if kind not in ("prv", "rdp"):
        raise ConfigError(f"unknown accountant {kind!r}; use 'prv' or 'rdp'")
    accountant = create_accountant(mechanism=kind)
    accountant.history = [(float(nm), float(q), int(s)) for nm, q, s in history]
    return accountant


def epsilon_of(kind: str, history: Sequence[HistoryEntry], delta: float) -> float:
    """The ε spent by ``history`` at ``delta`` (0 for an empty history)."""
    if not history or all(s == 0 for _, _, s in history):
        return 0.0
    return float(make_accountant(kind, history).get_epsilon(delta=delta))


def check_budget(run: DpRun, sample_rate: float, steps: int) -> float:
    """Refuse (BudgetExceededError) when the planned steps would take ε past the policy's target; else return
    the projected ε after them."""
    p = run.params
    history = list(run.store.accountant_history(run.dataset))
    projected = epsilon_of(p.accountant, [*history, (p.noise_multiplier, sample_rate, steps)], p.delta)
    if projected > p.target_epsilon:
        raise BudgetExceededError(
            f"dataset {run.dataset!r}: {steps} DP-SGD steps would spend ε={projected:.3f}, "
            f"over the target ε={p.target_epsilon:.3f}"
        )
    return projected


def freeze_embeddings(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Freeze every embedding table (and an ``embeddings`` block's LayerNorm); return what was frozen.

    BERT's position embeddings are looked up with a batch dimension of one, which breaks Opacus' per-sample
    gradients (opacus issue #841); frozen, they need none.
    """
    frozen: list[torch.nn.Parameter] = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Embedding) or name.endswith("embeddings"):
            for p in module.parameters():
                if p.requires_grad:
                    p.requires_grad_(False)
                    frozen.append(p)
    return frozen
