"""The site desk: what the dashboard and the CLI (anything that shows the site to a person) call.

:class:`SiteDesk` is a facade built once from the settings (:meth:`SiteDesk.from_settings`): it opens the
state of ``policies`` (job registry and approval service, audit log, privacy ledger, TOTP) on state.db
and reads the site's policy, its compiled NVFlare files, CDM row counts and the latest ETL/DQ/de-identification
reports. It implements ``tui.desk.SiteDeskProtocol`` structurally (``node`` never imports ``tui``).
Every method may block on I/O.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from fednode.clock import Clock, utc_now
from fednode.errors import ApprovalRefusedError, AuditChainError, PolicyFileError, ServiceError
from fednode.settings import Settings
from node.site.byoc_review import ByocReview, byoc_review
from node.site.reports import REPORT_NAMES, ReportStore
from omop_etl.db import make_engine
from omop_etl.stats import local_record_count, row_counts
from policies.audit import AuditEvent, AuditRecord, export_jsonl
from policies.audit._processing import ProcessingEntry, processing_history
from policies.compile import compile_site, load_base_resources
from policies.contracts import EgressDecision, JobRecord, JobState, RoundReport
from policies.policy_model import load_policy, policy_digest
from policies.registry import ApprovalRules
from policies.state_db import StateDb, open_state_db

log = logging.getLogger("fednode.node.site.desk")

BASE_RESOURCES = "resources.json.default"
"""The provisioned resources.json the compiled one is merged into."""


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of verifying the audit chain."""

    ok: bool
    records: int
    first_bad_seq: int | None = None
    message: str = ""
    signed_through: int = 0
    """The last record a verified signature covers (0: no signature covers any)."""


@dataclass(frozen=True)
class BudgetImpact:
    """What one job would take from its dataset's privacy budget."""

    dataset: str
    budget_epsilon: float
    used_epsilon: float  # spent plus what approved jobs have reserved
    remaining_epsilon: float
    job_epsilon: float
    delta: float


@dataclass(frozen=True)
class TextFile:
    """A named text file: the site policy or one compiled NVFlare site file."""

    name: str
    text: str


@dataclass(frozen=True)
class PolicyView:
    """The site policy as loaded, its validation problems and its compiled files."""

    source: TextFile
    problems: tuple[str, ...]  # why the policy does not validate (empty: it does)
    compiled: tuple[TextFile, ...]
    digest: str
    drift: tuple[str, ...] = ()  # where the deployed NVFlare site files differ from the compiled ones


PROCESSING_SHOWN = 50
"""Processing records the Data tab lists (``fednode audit export`` has them all)."""


@dataclass(frozen=True)
class DataView:
    """CDM row counts and the latest site reports (None where a report was not written yet)."""

    row_counts: Mapping[str, int]
    dq: Mapping[str, Any] | None
    deid: Mapping[str, Any] | None
    etl: Mapping[str, Any] | None
    deid_source: str | None = None  # the command whose de-identification counts ``deid`` holds
    processing: Sequence[ProcessingEntry] = ()
    """The processing history from the audit log, newest first (:data:`PROCESSING_SHOWN` at most)."""


class SiteDesk:
    """The dashboard's view of one site: jobs and decisions, training, audit, policy and data."""

    def __init__(self, settings: Settings, state: StateDb, *, agent_socket: Path | None = None) -> None:
        self.settings = settings
        self.state = state
        self.agent_socket = agent_socket
        """The approver's SSH agent (``SSH_AUTH_SOCK`` of the SSH session the dashboard runs in, forwarded with
        ``ssh -A``): signed approvals are signed there, with a key that never lives on the site host."""

    @property
    def site(self) -> str:
        """This site's name (from the policy, else the settings)."""
        return self.state.site

    @property
    def policy_problem(self) -> str | None:
        """Why the site policy could not be used (opened ``read_only`` with an invalid policy); None when fine."""
        return self.state.policy_problem

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        read_only: bool = False,
        agent_socket: Path | None = None,
    ) -> SiteDesk:
        """Open state.db, the site key and the state on top (the site policy must validate if present).

        ``read_only`` (the dashboard): create nothing (``NotFoundError``, exit 4, where this home holds no site)
        and open a site whose policy does not validate as one without a policy (nobody can approve; the Policy
        tab says why), so a typo in policy.yaml never locks the steward out."""
        state = open_state_db(settings, clock=clock, create=not read_only, tolerate_invalid_policy=read_only)
        return cls(settings, state, agent_socket=agent_socket)

    def close(self) -> None:
        """Release the database connections."""
        self.state.close()

    # --- jobs and decisions ------------------------------------------------------------------------------

    def revision(self) -> int:
        """Grows with every change to the site state: poll it to know when to re-read."""
        return self.state.jobs.revision()

    def list_jobs(self, states: Sequence[JobState] | None = None) -> Sequence[JobRecord]:
        return self.state.jobs.list_jobs(states)

    def job(self, job_id: str) -> JobRecord:
        return self.state.jobs.get(job_id)

    def last_approved(self, study: str, *, before: str) -> JobRecord | None:
        return self.state.jobs.last_approved(study, before=before)

    def approval_rules(self) -> ApprovalRules:
        return self.state.jobs.rules

    def approve(self, job_id: str, approver: str, reason: str, totp_code: str | None = None) -> JobRecord:
        """Record ``approver``'s approval; where the policy asks for signed approvals, the approver's SSH agent
        signs this job's statement first (``ApprovalRefusedError`` when there is no agent or it cannot)."""
        jobs = self.state.jobs
        if not jobs.rules.signed:
            return jobs.approve(job_id, approver, reason, totp_code)
        from policies.ssh_agent import AgentError, SshAgent, sign_with_agent

        statement = jobs.statement(job_id)
        if self.agent_socket is None:
            raise ApprovalRefusedError(
                f"job {job_id}: approvals here are signed by your own key, and this session has no SSH agent "
                "(connect with `ssh -A`, or approve with `fednode approve --signature`)"
            )
        try:
            signed = sign_with_agent(SshAgent(self.agent_socket), jobs.rules, statement, approver)
        except AgentError as exc:
            raise ApprovalRefusedError(f"job {job_id}: cannot sign with your SSH agent: {exc}") from None
        return jobs.approve(job_id, approver, reason, totp_code, signed=signed)

    def reject(self, job_id: str, approver: str, reason: str) -> JobRecord:
        return self.state.jobs.reject(job_id, approver, reason)

    def rounds(self, job_id: str) -> Sequence[RoundReport]:
        return self.state.jobs.rounds(job_id)

    def egress(self, job_id: str) -> Sequence[EgressDecision]:
        return self.state.jobs.egress(job_id)

    def budget_impact(self, job_id: str) -> BudgetImpact | None:
        """The job's planned epsilon against its dataset's budget; None for a job without DP."""
        manifest = self.state.jobs.get(job_id).manifest
        if manifest.dp is None:
            return None
        ledger = self.state.ledger
        summary = ledger.summary(manifest.dataset)
        return BudgetImpact(
            dataset=manifest.dataset,
            budget_epsilon=summary.budget_epsilon,
            used_epsilon=summary.committed_total_epsilon,
            remaining_epsilon=summary.remaining_epsilon,
            job_epsilon=ledger.planned_epsilon(manifest.dp),
            delta=summary.delta,
        )

    def byoc_review(self, job_id: str) -> ByocReview | None:
        """The sandbox, staged-data and site-DP facts of a job's review (:mod:`node.site.byoc_review`), with the
        CDM's live record count; None while the site has no policy. Loads torch (the staging and DP modules)."""
        policy = self.state.policy
        if policy is None:
            return None
        record = self.state.jobs.get(job_id)
        remaining = None
        if record.manifest.dataset in policy.privacy.budgets:
            remaining = self.state.ledger.summary(record.manifest.dataset).remaining_epsilon
        records = local_record_count(self.settings.omop_db_url)
        return byoc_review(record, policy, local_records=records, budget_remaining=remaining)

    # --- audit -------------------------------------------------------------------------------------------

    def audit_records(self, *, search: str | None = None, limit: int = 500) -> Sequence[AuditRecord]:
        return self.state.audit.records(search=search, limit=limit, newest_first=True)

    def verify_audit(self) -> ChainCheck:
        """Verify the whole chain and its signed checkpoints; a broken chain is a result, not an exception."""
        try:
            report = self.state.audit.verify()
        except AuditChainError as exc:
            return ChainCheck(False, self.state.audit.count(), exc.first_bad_seq, exc.message)
        return ChainCheck(True, report.records, signed_through=report.signed_through)

    def export_audit(self, destination: Path) -> ChainCheck:
        """Write the log as JSONL (records, checkpoints, head), verifying it on the way; raises if it is broken."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        with partial.open("w", encoding="utf-8") as out:
            report = export_jsonl(self.state.audit, out)
        partial.replace(destination)
        details = {"records": report.records, "head": report.last_hash, "format": "jsonl", "via": "dashboard"}
        self.state.audit.append(AuditEvent.AUDIT_EXPORTED, actor="dashboard", details=details)
        log.info("desk.audit_exported records=%d", report.records)
        return ChainCheck(True, report.records, signed_through=report.signed_through)

    # --- policy and data ---------------------------------------------------------------------------------

    def policy(self) -> PolicyView:
        """Read and validate the policy file now (it may have changed since the desk was opened)."""
        path = self.settings.policy_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return PolicyView(TextFile(path.name, ""), (f"{path.name}: no site policy (nobody can approve)",), (), "")
        try:
            policy = load_policy(path)
            files = compile_site(policy, base_resources=load_base_resources(self._local_dir / BASE_RESOURCES))
        except PolicyFileError as exc:
            return PolicyView(TextFile(path.name, text), (exc.message,), (), "")
        compiled = tuple(
            TextFile(name, json.dumps(doc, indent=2, sort_keys=True) + "\n") for name, doc in files.by_name().items()
        )
        return PolicyView(TextFile(path.name, text), (), compiled, policy_digest(policy), self._drift(compiled))

    @property
    def _local_dir(self) -> Path:
        return self.settings.site_local_dir

    def _drift(self, compiled: Sequence[TextFile]) -> tuple[str, ...]:
        """Where the site files NVFlare reads (``settings.site_local_dir``) differ from what the policy compiles to."""
        problems = []
        for file in compiled:
            deployed = self._local_dir / file.name
            try:
                same = json.loads(deployed.read_text(encoding="utf-8")) == json.loads(file.text)
            except FileNotFoundError:
                problems.append(f"{file.name} not written yet")
                continue
            except (OSError, ValueError) as exc:
                problems.append(f"{file.name} unreadable ({type(exc).__name__})")
                continue
            if not same:
                problems.append(f"{file.name} differs from the policy")
        return tuple(problems)

    def data(self) -> DataView:
        """CDM row counts and the latest reports; the de-identification counts of the later of ``deid run`` and
        ``etl --notes`` (which records them in its ETL report)."""
        store = ReportStore.for_settings(self.settings)
        reports = {name: store.read(name) for name in REPORT_NAMES}
        deid, source = reports["deid"], "fednode deid run" if reports["deid"] is not None else None
        notes = reports["etl"].get("notes") if reports["etl"] is not None else None
        if isinstance(notes, Mapping) and (deid is None or _mtime(store.path("etl")) >= _mtime(store.path("deid"))):
            deid, source = notes, "fednode etl --notes"
        history = processing_history(self.state.audit, limit=PROCESSING_SHOWN)
        return DataView(self._row_counts(), reports["dq"], deid, reports["etl"], source, history)

    def _row_counts(self) -> Mapping[str, int]:
        """Rows per CDM table; empty when the CDM was not created yet (a missing SQLite file is not created)."""
        url = self.settings.omop_db_url
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            return {}
        engine = make_engine(url)
        try:
            return row_counts(engine)
        except SQLAlchemyError as exc:
            raise ServiceError(f"cannot count the CDM rows ({type(exc).__name__})") from exc
        finally:
            engine.dispose()


def _mtime(path: Path) -> float:
    """When ``path`` was last written (0 when it is gone)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


__all__ = ["BudgetImpact", "ChainCheck", "DataView", "PolicyView", "SiteDesk", "TextFile"]
