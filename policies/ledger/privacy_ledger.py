"""The ledger's writes: reserve a job's budget (planned outside the lock, applied under it), commit or release it
when the job ends, and record the DP-SGD steps a trainer took."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from fednode.errors import BudgetExceededError, ServiceError
from policies.audit import AuditEvent
from policies.contracts import DpParams
from policies.ledger.accounting import epsilon_of, finite_or_none, planned_steps
from policies.ledger.records import Reservation, ReservationPlan, ReservationStatus, StaleLedgerError
from policies.ledger.reporting import LedgerReports
from policies.ledger.storage import bump_version, ledger_version, to_reservation, usage_parts
from policies.state import AccountantStepRow, ReservationRow

MAX_RETRIES = 20


class PrivacyLedger(LedgerReports):
    """Budgets per dataset (from the site policy), reservations, and the persisted accountant history."""

    def plan_reservation(self, job_id: str, dataset: str, dp: DpParams) -> ReservationPlan:
        """Compute (outside any lock) what reserving ``dp`` for ``job_id`` would do to ``dataset``'s budget."""
        budget = self.budget_of(dataset)
        steps = planned_steps(dp)
        flat = 0.0 if steps else float(dp.target_epsilon)
        with self._store.read() as s:
            version = ledger_version(s, dataset)
            if s.get(ReservationRow, job_id) is not None:
                raise BudgetExceededError(f"job {job_id}: budget already reserved")
            history, flat_total, _ = usage_parts(s, dataset)
        before = epsilon_of(history, self.delta, self.accountant) + flat_total
        after = epsilon_of((*history, *steps), self.delta, self.accountant) + flat_total + flat
        return ReservationPlan(job_id, dataset, version, steps, flat, before, after, budget)

    def apply_reservation(self, plan: ReservationPlan, *, session: Session, actor: str) -> Reservation:
        """Under the caller's write lock: re-check the version, refuse if over budget, insert, audit.

        Raises :class:`StaleLedgerError` when the ledger moved since planning (plan again), and
        :class:`BudgetExceededError` (after auditing ``budget:refused``) when the budget cannot cover it.
        """
        if ledger_version(session, plan.dataset) != plan.version:
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
        bump_version(session, plan.dataset)
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
        return to_reservation(row)

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
                "would_total_epsilon": finite_or_none(plan.after_epsilon),
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
            return to_reservation(row)  # idempotent: already ended
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
        bump_version(session, row.dataset)
        event = AuditEvent.BUDGET_COMMITTED if status is ReservationStatus.COMMITTED else AuditEvent.BUDGET_RELEASED
        self._audit.append(
            event,
            actor=actor,
            job_id=job_id,
            details={
                "dataset": row.dataset,
                "reserved_epsilon": row.reserved_epsilon,
                "spent_epsilon": None if row.spent_epsilon is None else finite_or_none(row.spent_epsilon),
                "recorded_steps": sum(n for _, _, n in recorded),
            },
            session=session,
        )
        session.flush()
        return to_reservation(row)

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
            bump_version(s, dataset)
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
