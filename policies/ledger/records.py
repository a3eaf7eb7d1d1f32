"""The ledger's values: a job's reservation, its status, and a reservation planned outside the lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fednode.errors import ServiceError
from policies.ledger.accounting import Step


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
