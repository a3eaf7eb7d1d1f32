"""The privacy-budget ledger: epsilon per dataset, composed with Opacus' accountants (PRV or RDP).

Model. A dataset's budget covers everything that touched it:

* every DP-SGD step actually taken (``record_steps``; the persisted accountant history the trainer continues),
* plus, for each job holding a *reservation* (approved, not yet ended), the steps it planned and has not yet taken,
* plus a flat epsilon for jobs that gave no step plan (their ``target_epsilon``; Opacus stops them there) and for
  committed jobs whose spend came as a number only.

Composition is computed by the accountant over the whole history, not by adding per-job epsilons (adding would
over-charge). ``reserve`` refuses (:class:`BudgetExceededError`) when the total would pass the budget. The
accountant runs outside the write lock; a per-dataset version counter, checked under the lock, makes a
reservation computed on stale data retry (optimistic concurrency), so concurrent reservations from threads or
processes never exceed the budget together.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fednode.errors import BudgetExceededError, ConfigError, ServiceError
from policies.audit import AuditEvent, AuditLog
from policies.contracts import DpParams
from policies.state import AccountantStepRow, Clock, LedgerVersionRow, ReservationRow, StateStore, utc_now

log = logging.getLogger("fednode.policies.ledger")

Step = tuple[float, float, int]
"""One accountant history entry, as Opacus keeps it: ``(noise_multiplier, sample_rate, steps)``."""

ACCOUNTANTS = ("prv", "rdp")
MAX_RETRIES = 20


class ReservationStatus(StrEnum):
    RESERVED = "reserved"  # approved, budget held
    COMMITTED = "committed"  # ended; the actual spend counts
    RELEASED = "released"  # never ran; nothing counts


@dataclass(frozen=True)
class Reservation:
    """A job's claim on one dataset's budget."""

    job_id: str
    dataset: str
    status: ReservationStatus
    reserved_epsilon: float
    spent_epsilon: float | None
    planned: tuple[Step, ...]
    delta: float
    created_at: datetime
    updated_at: datetime


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
            "spent_epsilon": _finite(self.spent_epsilon),
            "committed_total_epsilon": _finite(self.committed_total_epsilon),
            "remaining_epsilon": _finite(self.remaining_epsilon),
            "reserved_jobs": self.reserved_jobs,
            "accountant": self.accountant,
        }


@dataclass(frozen=True)
class ReservationPlan:
    """A reservation computed outside the lock; valid only while the dataset's version is unchanged."""

    job_id: str
    dataset: str
    version: int
    planned: tuple[Step, ...]
    flat_epsilon: float
    before_epsilon: float
    after_epsilon: float
    budget_epsilon: float


class StaleLedgerError(ServiceError):
    """The ledger changed between planning a reservation and applying it: plan again (internal; retried)."""


def compact(history: Iterable[Step]) -> tuple[Step, ...]:
    """Merge entries with equal ``(noise_multiplier, sample_rate)``: composition is commutative, so this is exact,
    and it keeps the PRV accountant fast (its cost grows with the number of distinct entries)."""
    merged: dict[tuple[float, float], int] = {}
    for nm, sr, steps in history:
        if steps > 0:
            merged[(float(nm), float(sr))] = merged.get((float(nm), float(sr)), 0) + int(steps)
    return tuple(sorted((nm, sr, n) for (nm, sr), n in merged.items()))


def epsilon_of(history: Iterable[Step], delta: float, accountant: str = "prv") -> float:
    """Epsilon of the composed ``history`` at ``delta`` with Opacus' PRV or RDP accountant (0 for no steps)."""
    if accountant not in ACCOUNTANTS:
        raise ConfigError(f"unknown accountant {accountant!r}; use one of {', '.join(ACCOUNTANTS)}")
    return _epsilon_cached(compact(history), float(delta), accountant)


@lru_cache(maxsize=512)
def _epsilon_cached(history: tuple[Step, ...], delta: float, accountant: str) -> float:
    if not history:
        return 0.0
    if any(nm <= 0 for nm, _, _ in history):
        return math.inf  # no noise: no finite guarantee
    from opacus.accountants import PRVAccountant, RDPAccountant  # heavy (torch): only when needed

    if accountant == "prv":
        acc_prv = PRVAccountant()
        acc_prv.history = list(history)
        try:
            return float(acc_prv.get_epsilon(delta))
        except (ValueError, RuntimeError, OverflowError) as exc:
            # PRV's numerical domain is narrower; RDP is an upper bound of the same guarantee, so safe for budgets
            log.warning("ledger.prv_fallback_rdp error=%s", type(exc).__name__)
    acc_rdp = RDPAccountant()
    acc_rdp.history = list(history)
    return float(acc_rdp.get_epsilon(delta))


def planned_steps(dp: DpParams) -> tuple[Step, ...]:
    """A job's step plan from its DP parameters; empty when it gives no sample rate or step count."""
    if dp.sample_rate > 0 and dp.steps > 0:
        return ((float(dp.noise_multiplier), float(dp.sample_rate), int(dp.steps)),)
    return ()


class PrivacyLedger:
    """Budgets per dataset (from the site policy), reservations, and the persisted accountant history."""

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

    # --- queries ------------------------------------------------------------------------------------------

    def budget_of(self, dataset: str) -> float:
        """The dataset's total epsilon budget; refuses a dataset the policy gives none."""
        budget = self._budgets.get(dataset, self._default_budget)
        if budget is None:
            raise BudgetExceededError(f"dataset {dataset!r} has no privacy budget in the site policy")
        return budget

    def accountant_history(self, dataset: str) -> list[Step]:
        """Every DP-SGD step taken on ``dataset`` (compacted), for ``accountant.history = ...`` in the trainer."""
        with self._store.read() as s:
            return list(compact(_recorded(s, dataset)))

    def epsilon_spent(self, dataset: str, delta: float | None = None, accountant: str | None = None) -> float:
        """Epsilon actually spent on ``dataset``: the accountant over the recorded steps, plus flat spends."""
        with self._store.read() as s:
            history = _recorded(s, dataset)
            flat = sum(_flat_spent(r, has_steps) for r, has_steps in _reservations_with_steps(s, dataset))
        return epsilon_of(history, delta or self.delta, accountant or self.accountant) + flat

    def planned_epsilon(self, dp: DpParams) -> float:
        """What this job alone would take (the dashboard shows it); ``target_epsilon`` if it gives no plan."""
        plan = planned_steps(dp)
        return epsilon_of(plan, self.delta, self.accountant) if plan else float(dp.target_epsilon)

    def reservation(self, job_id: str) -> Reservation | None:
        with self._store.read() as s:
            row = s.get(ReservationRow, job_id)
            return None if row is None else _to_reservation(row)

    def reservations(self, dataset: str | None = None) -> list[Reservation]:
        q = select(ReservationRow).order_by(ReservationRow.created_at)
        if dataset is not None:
            q = q.where(ReservationRow.dataset == dataset)
        with self._store.read() as s:
            return [_to_reservation(r) for r in s.scalars(q)]

    def datasets(self) -> list[str]:
        """Datasets with a budget or with any ledger entry."""
        with self._store.read() as s:
            seen = set(s.scalars(select(LedgerVersionRow.dataset)))
        return sorted(seen | set(self._budgets))

    def summary(self, dataset: str) -> DatasetBudget:
        """Budget, spend, what reserved jobs may still take, and what remains."""
        with self._store.read() as s:
            history, flat, reserved_jobs = self._usage_parts(s, dataset)
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

    # --- reservations -------------------------------------------------------------------------------------

    def plan_reservation(self, job_id: str, dataset: str, dp: DpParams) -> ReservationPlan:
        """Compute (outside any lock) what reserving ``dp`` for ``job_id`` would do to ``dataset``'s budget."""
        budget = self.budget_of(dataset)
        steps = planned_steps(dp)
        flat = 0.0 if steps else float(dp.target_epsilon)
        with self._store.read() as s:
            version = _version(s, dataset)
            if s.get(ReservationRow, job_id) is not None:
                raise BudgetExceededError(f"job {job_id}: budget already reserved")
            history, flat_total, _ = self._usage_parts(s, dataset)
        before = epsilon_of(history, self.delta, self.accountant) + flat_total
        after = epsilon_of((*history, *steps), self.delta, self.accountant) + flat_total + flat
        return ReservationPlan(job_id, dataset, version, steps, flat, before, after, budget)

    def apply_reservation(self, plan: ReservationPlan, *, session: Session, actor: str) -> Reservation:
        """Under the caller's write lock: re-check the version, refuse if over budget, insert, audit.

        Raises :class:`StaleLedgerError` when the ledger moved since planning (plan again), and
        :class:`BudgetExceededError` (after auditing ``budget:refused``) when the budget cannot cover it.
        """
        if _version(session, plan.dataset) != plan.version:
            raise StaleLedgerError(f"ledger for {plan.dataset!r} changed while planning")
        if not plan.after_epsilon <= plan.budget_epsilon:
            raise BudgetExceededError(
                f"job {plan.job_id}: dataset {plan.dataset!r} budget {plan.budget_epsilon:g} would be exceeded "
                f"(total would be {plan.after_epsilon:.4g} at delta {self.delta:g})"
            )
        now = self._clock()
        row = ReservationRow(
            job_id=plan.job_id,
            dataset=plan.dataset,
            status=ReservationStatus.RESERVED.value,
            planned_json=json.dumps([list(p) for p in plan.planned]),
            flat_epsilon=plan.flat_epsilon,
            reserved_epsilon=plan.after_epsilon - plan.before_epsilon,
            spent_epsilon=None,
            delta=self.delta,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        _bump(session, plan.dataset)
        self._audit.append(
            AuditEvent.BUDGET_RESERVED,
            actor=actor,
            job_id=plan.job_id,
            details={
                "dataset": plan.dataset,
                "reserved_epsilon": row.reserved_epsilon,
                "total_epsilon": plan.after_epsilon,
                "budget_epsilon": plan.budget_epsilon,
                "delta": self.delta,
                "accountant": self.accountant,
            },
            session=session,
        )
        session.flush()
        return _to_reservation(row)

    def reserve(self, job_id: str, dataset: str, dp: DpParams, *, actor: str) -> Reservation:
        """Plan and apply a reservation in its own transaction, retrying while concurrent writers move the
        ledger. Refusals are audited (``budget:refused``) and raise :class:`BudgetExceededError`."""
        for _ in range(MAX_RETRIES):
            plan = self.plan_reservation(job_id, dataset, dp)
            try:
                with self._store.write() as s:
                    return self.apply_reservation(plan, session=s, actor=actor)
            except StaleLedgerError:
                continue
            except BudgetExceededError:
                self.audit_refusal(plan, actor=actor)
                raise
        raise ServiceError(f"job {job_id}: ledger too busy to reserve budget after {MAX_RETRIES} tries")

    def audit_refusal(self, plan: ReservationPlan, *, actor: str) -> None:
        """Record ``budget:refused`` for a plan that did not fit (in its own transaction: the refused one rolled
        back)."""
        self._audit.append(
            AuditEvent.BUDGET_REFUSED,
            actor=actor,
            job_id=plan.job_id,
            details={
                "dataset": plan.dataset,
                "budget_epsilon": plan.budget_epsilon,
                "would_total_epsilon": _finite(plan.after_epsilon),
                "delta": self.delta,
                "accountant": self.accountant,
            },
        )

    def commit(
        self, job_id: str, *, actor: str, spent_epsilon: float | None = None, session: Session | None = None
    ) -> Reservation | None:
        """The job ended: its actual spend counts from now on (its recorded steps; ``spent_epsilon`` when it
        recorded none). Returns None for a job without a reservation (no DP)."""
        return self._end(job_id, ReservationStatus.COMMITTED, actor, spent_epsilon, session)

    def release(self, job_id: str, *, actor: str, session: Session | None = None) -> Reservation | None:
        """The job never ran: its reservation is dropped (steps it did record still count)."""
        return self._end(job_id, ReservationStatus.RELEASED, actor, None, session)

    def _end(
        self,
        job_id: str,
        status: ReservationStatus,
        actor: str,
        spent_epsilon: float | None,
        session: Session | None,
    ) -> Reservation | None:
        if session is None:
            with self._store.write() as own:
                return self._end(job_id, status, actor, spent_epsilon, own)
        row = session.get(ReservationRow, job_id)
        if row is None:
            return None
        if row.status != ReservationStatus.RESERVED.value:
            return _to_reservation(row)  # idempotent: already ended
        recorded = list(
            session.execute(
                select(
                    AccountantStepRow.noise_multiplier, AccountantStepRow.sample_rate, AccountantStepRow.steps
                ).where(AccountantStepRow.job_id == job_id)
            ).tuples()
        )
        if status is ReservationStatus.COMMITTED and spent_epsilon is None and recorded:
            spent_epsilon = epsilon_of(recorded, self.delta, self.accountant)
        row.status = status.value
        row.spent_epsilon = spent_epsilon if status is ReservationStatus.COMMITTED else None
        row.updated_at = self._clock()
        _bump(session, row.dataset)
        event = AuditEvent.BUDGET_COMMITTED if status is ReservationStatus.COMMITTED else AuditEvent.BUDGET_RELEASED
        self._audit.append(
            event,
            actor=actor,
            job_id=job_id,
            details={
                "dataset": row.dataset,
                "reserved_epsilon": row.reserved_epsilon,
                "spent_epsilon": None if row.spent_epsilon is None else _finite(row.spent_epsilon),
                "recorded_steps": sum(n for _, _, n in recorded),
            },
            session=session,
        )
        session.flush()
        return _to_reservation(row)

    def record_steps(
        self, job_id: str, dataset: str, noise_multiplier: float, sample_rate: float, steps: int, *, actor: str
    ) -> None:
        """Append DP-SGD steps the trainer took (call once per round): the accountant continues from here."""
        if steps <= 0 or not 0 < sample_rate <= 1 or noise_multiplier < 0:
            raise ValueError("record_steps: steps > 0, 0 < sample_rate <= 1 and noise_multiplier >= 0 are required")
        with self._store.write() as s:
            s.add(
                AccountantStepRow(
                    job_id=job_id,
                    dataset=dataset,
                    noise_multiplier=float(noise_multiplier),
                    sample_rate=float(sample_rate),
                    steps=int(steps),
                    at=self._clock(),
                )
            )
            _bump(s, dataset)
            self._audit.append(
                AuditEvent.BUDGET_STEPS,
                actor=actor,
                job_id=job_id,
                details={
                    "dataset": dataset,
                    "noise_multiplier": float(noise_multiplier),
                    "sample_rate": float(sample_rate),
                    "steps": int(steps),
                },
                session=s,
            )

    # --- internals ----------------------------------------------------------------------------------------

    def _usage_parts(self, s: Session, dataset: str) -> tuple[list[Step], float, int]:
        """(history to compose, flat epsilon to add, number of reserved jobs) for ``dataset``."""
        history: list[Step] = list(_recorded(s, dataset))
        flat = 0.0
        reserved_jobs = 0
        for row, has_steps in _reservations_with_steps(s, dataset):
            if row.status == ReservationStatus.RESERVED.value:
                reserved_jobs += 1
                taken = _recorded_by_job(s, row.job_id)
                for nm, sr, n in json.loads(row.planned_json):
                    left = int(n) - taken.get((float(nm), float(sr)), 0)
                    if left > 0:
                        history.append((float(nm), float(sr), left))
                flat += row.flat_epsilon
            else:
                flat += _flat_spent(row, has_steps)
        return history, flat, reserved_jobs


def _recorded(s: Session, dataset: str) -> list[Step]:
    q = select(AccountantStepRow.noise_multiplier, AccountantStepRow.sample_rate, AccountantStepRow.steps).where(
        AccountantStepRow.dataset == dataset
    )
    return [(float(a), float(b), int(c)) for a, b, c in s.execute(q.order_by(AccountantStepRow.id)).tuples()]


def _recorded_by_job(s: Session, job_id: str) -> dict[tuple[float, float], int]:
    q = select(AccountantStepRow.noise_multiplier, AccountantStepRow.sample_rate, AccountantStepRow.steps).where(
        AccountantStepRow.job_id == job_id
    )
    out: dict[tuple[float, float], int] = {}
    for nm, sr, n in s.execute(q).tuples():
        out[(float(nm), float(sr))] = out.get((float(nm), float(sr)), 0) + int(n)
    return out


def _reservations_with_steps(s: Session, dataset: str) -> list[tuple[ReservationRow, bool]]:
    rows = list(s.scalars(select(ReservationRow).where(ReservationRow.dataset == dataset)))
    with_steps = set(s.scalars(select(AccountantStepRow.job_id).where(AccountantStepRow.dataset == dataset).distinct()))
    return [(r, r.job_id in with_steps) for r in rows]


def _flat_spent(row: ReservationRow, has_steps: bool) -> float:
    """Flat epsilon a committed job adds: its stated spend when it recorded no steps (else the steps count)."""
    if row.status != ReservationStatus.COMMITTED.value or has_steps:
        return 0.0
    return row.spent_epsilon if row.spent_epsilon is not None else row.reserved_epsilon


def _version(s: Session, dataset: str) -> int:
    row = s.get(LedgerVersionRow, dataset)
    return 0 if row is None else row.version


def _bump(s: Session, dataset: str) -> None:
    row = s.get(LedgerVersionRow, dataset)
    if row is None:
        s.add(LedgerVersionRow(dataset=dataset, version=1))
    else:
        row.version += 1


def _to_reservation(r: ReservationRow) -> Reservation:
    return Reservation(
        job_id=r.job_id,
        dataset=r.dataset,
        status=ReservationStatus(r.status),
        reserved_epsilon=r.reserved_epsilon,
        spent_epsilon=r.spent_epsilon,
        planned=tuple((float(a), float(b), int(c)) for a, b, c in json.loads(r.planned_json)),
        delta=r.delta,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
