"""The job service: registration, reads, people's decisions, the gate's lifecycle and a run's reports, as one
object on one state.db."""

from __future__ import annotations

from policies.registry.approvals import ApprovalDecisions
from policies.registry.lifecycle import JobLifecycle
from policies.registry.queries import JobQueries
from policies.registry.registration import JobRegistration
from policies.registry.resumption import JobResumption
from policies.registry.run_reports import RunReports


class JobService(JobResumption, JobRegistration, JobQueries, ApprovalDecisions, JobLifecycle, RunReports):
    """Job registry + approval service on state.db. One instance per process; thread-safe (no shared state
    besides the store's connection pool).

    ``JobService(store, audit, ledger, *, rules, totp=None, clock=utc_now)``; ``rules`` may be replaced later.
    """
