"""What the dashboard needs from the site, as a :class:`typing.Protocol`.

The dashboard is coded against :class:`SiteDeskProtocol`; ``node.site.desk.SiteDesk`` implements it over the
job registry, audit log, ledger, policy and site reports in ``policies``/``omop_etl``. The shapes of the records
it reads are declared here as read-only protocols too, so ``tui`` depends on no storage or FLARE module (the
import-linter contracts in ``pyproject.toml``). Every method may block on I/O: call them from workers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from policies.audit._processing import ProcessingEntry
from policies.contracts import EgressDecision, Finding, JobRecord, JobState, RoundReport


class AuditEntry(Protocol):
    """One record of the hash-chained audit log."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def job_id(self) -> str | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


class ChainStatus(Protocol):
    """The outcome of verifying the audit chain end to end."""

    @property
    def ok(self) -> bool: ...
    @property
    def records(self) -> int: ...
    @property
    def first_bad_seq(self) -> int | None: ...
    @property
    def message(self) -> str: ...
    @property
    def signed_through(self) -> int: ...


class BudgetImpactView(Protocol):
    """What a job would take from its dataset's privacy budget, against what is used and left."""

    @property
    def dataset(self) -> str: ...
    @property
    def budget_epsilon(self) -> float: ...
    @property
    def used_epsilon(self) -> float: ...
    @property
    def remaining_epsilon(self) -> float: ...
    @property
    def job_epsilon(self) -> float: ...
    @property
    def delta(self) -> float: ...


class ApprovalRulesView(Protocol):
    """Who may approve, how many distinct people must, and whether a TOTP code is needed."""

    @property
    def approvers(self) -> Sequence[str]: ...
    @property
    def required_approvals(self) -> int: ...
    @property
    def totp_required(self) -> bool: ...
    @property
    def signed(self) -> bool:
        """Approvals are signed by the approver's own key (through their SSH agent)."""
        ...

    def key_of(self, approver: str) -> object | None:
        """The key ``approver`` enrolled in the policy, or None."""
        ...


class TextFileView(Protocol):
    """A named text file: the policy as loaded or one compiled NVFlare site file."""

    @property
    def name(self) -> str: ...
    @property
    def text(self) -> str: ...


class PolicyReport(Protocol):
    """The site policy as loaded, whether it validates, and what it compiles to."""

    @property
    def source(self) -> TextFileView: ...
    @property
    def problems(self) -> Sequence[str]: ...
    @property
    def compiled(self) -> Sequence[TextFileView]: ...
    @property
    def digest(self) -> str: ...
    @property
    def drift(self) -> Sequence[str]: ...


class DataReport(Protocol):
    """Counts about the site's data: CDM row counts and the latest DQ and de-identification reports (no PHI)."""

    @property
    def row_counts(self) -> Mapping[str, int]: ...
    @property
    def dq(self) -> Mapping[str, Any] | None: ...
    @property
    def deid(self) -> Mapping[str, Any] | None: ...
    @property
    def etl(self) -> Mapping[str, Any] | None: ...
    @property
    def deid_source(self) -> str | None:
        """The command whose counts ``deid`` holds (``fednode deid run`` or ``fednode etl --notes``)."""
        ...

    @property
    def processing(self) -> Sequence[ProcessingEntry]:
        """The processing history from the audit log, newest first (what, when, by whom, counts)."""
        ...


class SandboxPathView(Protocol):
    """One path a BYOC job's confined process may use, as the job sees it."""

    @property
    def path(self) -> str: ...
    @property
    def access(self) -> str: ...
    @property
    def what(self) -> str: ...


class SandboxLimitsView(Protocol):
    """The policy's kernel limits on a BYOC job's training process."""

    @property
    def memory_mib(self) -> int | None: ...
    @property
    def max_processes(self) -> int: ...
    @property
    def wall_minutes(self) -> int: ...
    @property
    def cpu_minutes(self) -> int | None: ...
    @property
    def file_size_mib(self) -> int: ...


class StagedTableView(Protocol):
    """One CDM table the staged data comes from, and the columns read."""

    @property
    def table(self) -> str: ...
    @property
    def columns(self) -> Sequence[str]: ...


class StagedDataView(Protocol):
    """The data the site stages for a BYOC job: files, source columns, the live record count."""

    @property
    def files(self) -> Sequence[str]: ...
    @property
    def tables(self) -> Sequence[StagedTableView]: ...
    @property
    def records(self) -> int | None: ...
    @property
    def min_records(self) -> int: ...
    @property
    def refusal(self) -> str | None: ...


class SiteDpReview(Protocol):
    """Whether the site adds its own DP noise at egress, and the epsilon it charges."""

    @property
    def required(self) -> bool: ...
    @property
    def applied(self) -> bool: ...
    @property
    def noise_multiplier(self) -> float | None: ...
    @property
    def clip_norm(self) -> float: ...
    @property
    def epsilon(self) -> float | None: ...
    @property
    def declared_epsilon(self) -> float | None: ...
    @property
    def summary(self) -> str: ...


class ByocReviewView(Protocol):
    """What the sandbox allows a job's code, the data staged for it and the site's DP (``node.site.byoc_review``)."""

    @property
    def byoc(self) -> bool: ...
    @property
    def script(self) -> str | None: ...
    @property
    def config_problem(self) -> str | None: ...
    @property
    def denials(self) -> Sequence[Finding]: ...
    @property
    def warnings(self) -> Sequence[Finding]: ...
    @property
    def paths(self) -> Sequence[SandboxPathView]: ...
    @property
    def never(self) -> Sequence[str]: ...
    @property
    def network(self) -> str: ...
    @property
    def limits(self) -> SandboxLimitsView: ...
    @property
    def staged(self) -> StagedDataView: ...
    @property
    def site_dp(self) -> SiteDpReview: ...
    @property
    def notes(self) -> Sequence[str]: ...


class SiteDeskProtocol(Protocol):
    """The site desk the dashboard calls; ``node.site.desk.SiteDesk`` is the real one."""

    @property
    def site(self) -> str:
        """This site's name."""
        ...

    @property
    def policy_problem(self) -> str | None:
        """Why the site policy does not validate (the dashboard opened without it: nobody can approve)."""
        ...

    def revision(self) -> int:
        """A number that grows with every change to the site state (cheap to poll)."""
        ...

    def list_jobs(self, states: Sequence[JobState] | None = None) -> Sequence[JobRecord]:
        """Jobs at this site, newest first (all states when ``states`` is None)."""
        ...

    def job(self, job_id: str) -> JobRecord:
        """One job; raises ``NotFoundError``."""
        ...

    def last_approved(self, study: str, *, before: str) -> JobRecord | None:
        """The last approved job of ``study`` other than ``before`` (the baseline of the review diff)."""
        ...

    def approval_rules(self) -> ApprovalRulesView:
        """The site policy's approval section."""
        ...

    def approve(self, job_id: str, approver: str, reason: str, totp_code: str | None = None) -> JobRecord:
        """Record one approval; raises ``ApprovalRefusedError`` when it is not allowed."""
        ...

    def reject(self, job_id: str, approver: str, reason: str) -> JobRecord:
        """Reject the job."""
        ...

    def rounds(self, job_id: str) -> Sequence[RoundReport]:
        """The job's local training rounds, in order."""
        ...

    def egress(self, job_id: str) -> Sequence[EgressDecision]:
        """The egress guard's decisions on the job's outgoing results."""
        ...

    def budget_impact(self, job_id: str) -> BudgetImpactView | None:
        """What the job would take from its dataset's budget (None for a job without DP)."""
        ...

    def byoc_review(self, job_id: str) -> ByocReviewView | None:
        """The sandbox, staged-data and site-DP facts of the job's review (None without a site policy)."""
        ...

    def audit_records(self, *, search: str | None = None, limit: int = 500) -> Sequence[AuditEntry]:
        """The newest ``limit`` audit records matching ``search`` (actor, event, job or details), newest first."""
        ...

    def verify_audit(self) -> ChainStatus:
        """Verify the whole audit chain (never raises for a broken chain: the status says where)."""
        ...

    def export_audit(self, destination: Path) -> ChainStatus:
        """Write the audit log with its checkpoints as JSONL to ``destination``, verifying it on the way."""
        ...

    def policy(self) -> PolicyReport:
        """The site policy as loaded, its validation and its compiled NVFlare files."""
        ...

    def data(self) -> DataReport:
        """CDM row counts and the latest DQ/de-identification reports."""
        ...
