"""The ledger's configuration and every read: budgets, spend, reservations, the ``fednode ledger show`` lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fednode.clock import Clock, utc_now
from fednode.errors import BudgetExceededError, ConfigError
from policies.audit import AuditLog
from policies.contracts import DpParams
from policies.ledger.accounting import ACCOUNTANTS, Step, compact, epsilon_of, finite_or_none, planned_steps
from policies.ledger.records import Reservation
from policies.ledger.storage import (
    flat_spent,
    recorded_steps,
    reservations_with_steps,
    steps_taken_by_job,
    to_reservation,
    usage_parts,
)
from policies.state import LedgerVersionRow, ReservationRow, StateStore


@dataclass(frozen=True)
class DatasetBudget:
    """One line of ``fednode ledger show``."""

    dataset: str
    budget_epsilon: float
    delta: float
    spent_epsilon: float  # steps actually taken (+ committed flat spends)
    committed_total_epsilon: float  # spent + what reserved jobs may still take
    remaining_epsilon: float
    reserved_jobs: int
    accountant: str

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "budget_epsilon": self.budget_epsilon,
            "delta": self.delta,
            "spent_epsilon": finite_or_none(self.spent_epsilon),
            "committed_total_epsilon": finite_or_none(self.committed_total_epsilon),
            "remaining_epsilon": finite_or_none(self.remaining_epsilon),
            "reserved_jobs": self.reserved_jobs,
            "accountant": self.accountant,
        }


class LedgerReports:
    """Budgets per dataset (from the site policy) and the reads over reservations and the accountant history;
    :class:`~policies.ledger.PrivacyLedger` adds the writes."""

    def __init__(
        self,
        store: StateStore,
        audit: AuditLog,
        *,
        budgets: Mapping[str, float],
        delta: float,
        accountant: str = "prv",
        default_budget: float | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if accountant not in ACCOUNTANTS:
            raise ConfigError(f"unknown accountant {accountant!r}; use one of {', '.join(ACCOUNTANTS)}")
        if not 0 < delta < 1:
            raise ConfigError("privacy delta must be between 0 and 1")
        self._store = store
        self._audit = audit
        self._budgets = dict(budgets)
        self._default_budget = default_budget
        self.delta = delta
        self.accountant = accountant
        self._clock = clock

    def budget_of(self, dataset: str) -> float:
        """The dataset's total epsilon budget; refuses a dataset the policy gives none."""
        budget = self._budgets.get(dataset, self._default_budget)
        if budget is None:
            raise BudgetExceededError(f"dataset {dataset!r} has no privacy budget in the site policy")
        return budget

    def accountant_history(self, dataset: str) -> list[Step]:
        """Every DP-SGD step taken on ``dataset`` (compacted), for ``accountant.history = ...`` in the trainer."""
        with self._store.read() as s:
            return list(compact(recorded_steps(s, dataset)))

    def job_steps(self, job_id: str) -> list[Step]:
        """Every step recorded by ``job_id`` (compacted): the persisted state of a per-job accountant."""
        with self._store.read() as s:
            taken = steps_taken_by_job(s, job_id)
        return list(compact((nm, sr, n) for (nm, sr), n in taken.items()))

    def epsilon_spent(self, dataset: str, delta: float | None = None, accountant: str | None = None) -> float:
        """Epsilon actually spent on ``dataset``: the accountant over the recorded steps, plus flat spends."""
        with self._store.read() as s:
            history = recorded_steps(s, dataset)
            flat = sum(flat_spent(r, has_steps) for r, has_steps in reservations_with_steps(s, dataset))
        return epsilon_of(history, delta or self.delta, accountant or self.accountant) + flat

    def planned_epsilon(self, dp: DpParams) -> float:
        """What this job alone would take (the dashboard shows it); ``target_epsilon`` if it gives no plan."""
        plan = planned_steps(dp)
        return epsilon_of(plan, self.delta, self.accountant) if plan else float(dp.target_epsilon)

    def reservation(self, job_id: str) -> Reservation | None:
        with self._store.read() as s:
            row = s.get(ReservationRow, job_id)
            return None if row is None else to_reservation(row)

    def reservations(self, dataset: str | None = None) -> list[Reservation]:
        q = select(ReservationRow).order_by(ReservationRow.created_at)
        if dataset is not None:
            q = q.where(ReservationRow.dataset == dataset)
        with self._store.read() as s:
            return [to_reservation(r) for r in s.scalars(q)]

    def datasets(self) -> list[str]:
        """Datasets with a budget or with any ledger entry."""
        with self._store.read() as s:
            seen = set(s.scalars(select(LedgerVersionRow.dataset)))
        return sorted(seen | set(self._budgets))

    def summary(self, dataset: str) -> DatasetBudget:
        """Budget, spend, what reserved jobs may still take, and what remains."""
        with self._store.read() as s:
            history, flat, reserved_jobs = usage_parts(s, dataset)
        total = epsilon_of(history, self.delta, self.accountant) + flat
        budget = self._budgets.get(dataset, self._default_budget) or 0.0
        spent = self.epsilon_spent(dataset)
        return DatasetBudget(
            dataset=dataset,
            budget_epsilon=budget,
            delta=self.delta,
            spent_epsilon=spent,
            committed_total_epsilon=total,
            remaining_epsilon=budget - total,
            reserved_jobs=reserved_jobs,
            accountant=self.accountant,
        )
