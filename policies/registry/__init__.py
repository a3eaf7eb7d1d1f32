"""The job registry and approval service: the one place that changes a job's state at this site.

The NVFlare gate (``node.site.gate``), the CLI (``fednode jobs|approve|reject``) and the dashboard all call
:class:`JobService`, from different processes, on one state.db. Every transition is written together with its
audit record in one transaction (commit or roll back together); refusals are audited too.

States (``JobState``)::

    PENDING ──approve × N──► APPROVED ──mark_running──► RUNNING ──mark_finished──► FINISHED
       │                        │                          └──────mark_failed───► FAILED
       ├──reject───────────────►├──► REJECTED
       └──mark_refused─────────►└──► REFUSED     (gate: digest or meta changed, denied verdict, policy)

Approval rules: the verdict must allow the job; the approver must be listed in the policy; each approver once
per job; a valid, unused TOTP code when the policy asks for one; ``required_approvals`` distinct people. The
last approval reserves the job's privacy budget in the same transaction (refused if it would exceed) and binds
the approval to the manifest digest: :meth:`JobService.is_approved` is true only for that exact digest.

Modules: ``rules`` (who may approve; names and reasons), ``base`` (transactions that keep refusals, rows as
records, transitions with their audit event), ``registration`` (the gate registers a job), ``queries`` (reads),
``approvals`` (people approve or reject), ``second_factor`` (the TOTP check), ``lifecycle`` (deploy and run),
``run_reports`` (rounds and egress decisions), ``service`` (:class:`JobService`: all of them on one object).
"""

from policies.registry.queries import APPROVED_ONCE
from policies.registry.rules import MAX_REASON, ApprovalRules
from policies.registry.service import JobService

__all__ = ["APPROVED_ONCE", "MAX_REASON", "ApprovalRules", "JobService"]
