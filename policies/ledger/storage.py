"""The SQL over the ledger tables: recorded steps, reservations, the per-dataset version counter."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies.ledger.accounting import Step
from policies.ledger.records import Reservation, ReservationStatus
from policies.state import AccountantStepRow, LedgerVersionRow, ReservationRow


def usage_parts(s: Session, dataset: str) -> tuple[list[Step], float, int]:
    """(history to compose, flat epsilon to add, number of reserved jobs) for ``dataset``."""
    history: list[Step] = list(recorded_steps(s, dataset))
    flat = 0.0
    reserved_jobs = 0
    for row, has_steps in reservations_with_steps(s, dataset):
        if row.status == ReservationStatus.RESERVED.value:
            reserved_jobs += 1
            taken = steps_taken_by_job(s, row.job_id)
            for nm, sr, n in json.loads(row.planned_json):
                left = int(n) - taken.get((float(nm), float(sr)), 0)
                if left > 0:
                    history.append((float(nm), float(sr), left))
            flat += row.flat_epsilon
        else:
            flat += flat_spent(row, has_steps)
    return history, flat, reserved_jobs


def recorded_steps(s: Session, dataset: str) -> list[Step]:
    """Every step recorded on ``dataset``, in the order taken."""
    q = select(AccountantStepRow.noise_multiplier, AccountantStepRow.sample_rate, AccountantStepRow.steps).where(
        AccountantStepRow.dataset == dataset
    )
    return [(float(a), float(b), int(c)) for a, b, c in s.execute(q.order_by(AccountantStepRow.id)).tuples()]


def steps_taken_by_job(s: Session, job_id: str) -> dict[tuple[float, float], int]:
    """Steps ``job_id`` recorded, summed per ``(noise_multiplier, sample_rate)``."""
    q = select(AccountantStepRow.noise_multiplier, AccountantStepRow.sample_rate, AccountantStepRow.steps).where(
        AccountantStepRow.job_id == job_id
    )
    out: dict[tuple[float, float], int] = {}
    for nm, sr, n in s.execute(q).tuples():
        out[(float(nm), float(sr))] = out.get((float(nm), float(sr)), 0) + int(n)
    return out


def reservations_with_steps(s: Session, dataset: str) -> list[tuple[ReservationRow, bool]]:
    """The dataset's reservations, each with whether its job recorded any step."""
    rows = list(s.scalars(select(ReservationRow).where(ReservationRow.dataset == dataset)))
    with_steps = set(s.scalars(select(AccountantStepRow.job_id).where(AccountantStepRow.dataset == dataset).distinct()))
    return [(r, r.job_id in with_steps) for r in rows]


def flat_spent(row: ReservationRow, has_steps: bool) -> float:
    """Flat epsilon a committed job adds: its stated spend when it recorded no steps (else the steps count)."""
    if row.status != ReservationStatus.COMMITTED.value or has_steps:
        return 0.0
    return row.spent_epsilon if row.spent_epsilon is not None else row.reserved_epsilon


def ledger_version(s: Session, dataset: str) -> int:
    """The dataset's version counter (0 before its first entry)."""
    row = s.get(LedgerVersionRow, dataset)
    return 0 if row is None else row.version


def bump_version(s: Session, dataset: str) -> None:
    """Advance the dataset's version counter: plans computed before this are stale."""
    row = s.get(LedgerVersionRow, dataset)
    if row is None:
        s.add(LedgerVersionRow(dataset=dataset, version=1))
    else:
        row.version += 1


def to_reservation(r: ReservationRow) -> Reservation:
    """The stored row as a :class:`Reservation`."""
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
