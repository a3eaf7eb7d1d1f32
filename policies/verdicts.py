"""The policy engine: ``evaluate(job, site_state) -> Verdict``, one result per rule, deterministic.

Every rule is a pure function of the job manifest, the site's state and its policy: the clock comes in
``SiteState.now``, nothing is read from disk or the environment. A job is allowed when no rule denies it.
``WARN`` results are shown to the reviewer and never deny. Rule names are stable (the dashboard and the
audit log show them): see ``RULES`` and docs/policy.md.

``time_window`` is the one transient rule: it can deny now and allow later. The gate re-evaluates at each
scheduling retry; the approval service may record approvals while only transient rules deny.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from policies.codescan import ALWAYS_REFUSED, CLIENT_COMPONENTS, DENY, scan_manifest_bounded
from policies.contracts import Finding, JobKind, JobManifest, RuleOutcome, RuleResult, Verdict
from policies.manifest import content_mismatches, files_digest
from policies.policy_model import (
    ART6_LETTER,
    ART9_LETTER,
    INDIVIDUAL_UPDATE_ALGORITHMS,
    WEEKDAY_INDEX,
    Algorithm,
    SecureAggregation,
    SitePolicy,
    policy_digest,
    split_identity,
)

PRIVACY_SCOPE = "fednode"
"""The privacy scope ``policies.compile`` writes to privacy.json; a job may name it or none."""

TRANSIENT_RULES = frozenset({"time_window"})


@dataclass(frozen=True)
class SiteState:
    """What the site knows when it judges a job: its policy, the clock, its budget and its data."""

    policy: SitePolicy
    now: datetime  # timezone-aware
    budget_remaining: Mapping[str, float] = field(default_factory=dict)  # dataset -> epsilon left
    local_records: int = 0
    coordinator: str | None = None  # "name / org" of the server this site is connected to; None: not known here

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("SiteState.now must be timezone-aware")


Rule = Callable[[JobManifest, SiteState, tuple[Finding, ...]], RuleResult]


Scan = Callable[[JobManifest, frozenset[str]], tuple[Finding, ...]]
"""The code scan: (job, allowed client component classes) -> findings."""


def bounded_scan(job: JobManifest, components: frozenset[str]) -> tuple[Finding, ...]:
    """The default scan: in a worker process with a time and memory limit, cached by content."""
    return scan_manifest_bounded(job, components=components)


def evaluate(
    job: JobManifest, site_state: SiteState, *, extra_rules: Iterable[Rule] = (), scan: Scan = bounded_scan
) -> Verdict:
    """Judge ``job`` under the site's policy; ``extra_rules`` can only add denials, never lift one."""
    findings = scan(job, CLIENT_COMPONENTS | frozenset(site_state.policy.jobs.byoc_components))
    results = tuple(rule(job, site_state, findings) for rule in (*RULES, *extra_rules))
    allowed = all(r.outcome is not RuleOutcome.DENY for r in results)
    return Verdict(allowed, results, findings, policy_digest(site_state.policy))


def blocking_rules(verdict: Verdict) -> frozenset[str]:
    """Names of the rules that deny the job."""
    return frozenset(r.rule for r in verdict.results if r.outcome is RuleOutcome.DENY)


def _allow(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule, RuleOutcome.ALLOW, reason)


def _deny(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule, RuleOutcome.DENY, reason)


def _warn(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule, RuleOutcome.WARN, reason)


# -- the rules ---------------------------------------------------------------------------------------


def legal_basis(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    legal = state.policy.legal
    a6, a9 = legal.gdpr_art6_basis, legal.gdpr_art9_basis
    return _allow(
        "legal_basis",
        f"processed under GDPR art. 6(1)({ART6_LETTER[a6]}) {a6.value.replace('_', ' ')} and "
        f"art. 9(2)({ART9_LETTER[a9]}) {a9.value.replace('_', ' ')}",
    )


def ethics_approval(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    appr = state.policy.legal.ethics_approval
    today = state.now.astimezone(state.policy.zone).date()
    if today > appr.expires:
        return _deny("ethics_approval", f"ethics approval {appr.id} expired on {appr.expires.isoformat()}")
    return _allow("ethics_approval", f"ethics approval {appr.id} valid until {appr.expires.isoformat()}")


def data_use_agreement(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    dua = state.policy.legal.data_use_agreement
    today = state.now.astimezone(state.policy.zone).date()
    if today > dua.expires:
        return _deny("data_use_agreement", f"data-use agreement {dua.id} expired on {dua.expires.isoformat()}")
    return _allow("data_use_agreement", f"data-use agreement {dua.id} valid until {dua.expires.isoformat()}")


def coordinator(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    allowed = state.policy.participants.coordinators
    if state.coordinator is None:
        return _warn("coordinator", "coordinator identity not known to this check; the gate checks it")
    name, org = split_identity(state.coordinator)
    if any(c.matches(name, org) for c in allowed):
        return _allow("coordinator", f"coordinator {state.coordinator} is allowed")
    return _deny("coordinator", f"coordinator {state.coordinator} is not among the allowed coordinators")


def submitter(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    if not job.submitter:
        return _deny("submitter", "the job names no submitter certificate identity")
    name, org = split_identity(job.submitter)
    if any(s.matches(name, org) for s in state.policy.participants.submitters):
        return _allow("submitter", f"submitter {job.submitter} is allowed")
    return _deny("submitter", f"submitter {job.submitter} is not allowed to submit jobs to this site")


def job_kind(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    kinds = state.policy.jobs.kinds
    label = "bring-your-own-code" if job.kind is JobKind.BYOC else "config-only"
    if job.kind in kinds:
        return _allow("job_kind", f"{label} jobs are allowed")
    return _deny("job_kind", f"{label} jobs are not allowed at this site")


def algorithm(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    allowed = {a.value for a in state.policy.jobs.algorithms}
    if job.algorithm in allowed:
        return _allow("algorithm", f"algorithm {job.algorithm} is allowed")
    known = {a.value for a in Algorithm}
    what = "unknown algorithm" if job.algorithm not in known else "algorithm"
    return _deny("algorithm", f"{what} {job.algorithm} is not allowed (allowed: {', '.join(sorted(allowed))})")


def rounds(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    limit = state.policy.jobs.max_rounds
    if 1 <= job.rounds <= limit:
        return _allow("rounds", f"{job.rounds} rounds (at most {limit})")
    return _deny("rounds", f"{job.rounds} rounds exceed the limit of {limit}")


def min_sites(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    need = state.policy.jobs.min_sites
    if job.min_clients < need:
        return _deny("min_sites", f"the job aggregates with {job.min_clients} sites; this site requires {need}")
    named = [s for s in job.sites if not s.startswith("@")]
    if named and "@ALL" not in job.sites and len(named) < need:
        return _deny("min_sites", f"the job names {len(named)} sites; this site requires {need}")
    return _allow("min_sites", f"aggregation needs at least {job.min_clients} sites (required {need})")


def local_records(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    need = state.policy.jobs.min_local_records
    if state.local_records < need:
        return _deny("local_records", f"this site holds {state.local_records} records; at least {need} are required")
    return _allow("local_records", f"{state.local_records} local records (at least {need})")


def data_access(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    allowed = state.policy.data_access
    problems = []
    for table, columns in sorted(job.data_access.items()):
        if table not in allowed:
            problems.append(f"table {table}")
            continue
        extra = sorted(set(columns) - set(allowed[table]))
        problems.extend(f"{table}.{c}" for c in extra)
    if problems:
        return _deny("data_access", f"reads data the policy does not allow: {', '.join(problems)}")
    if not job.data_access:
        return _allow("data_access", "the job declares no OMOP data access")
    tables = ", ".join(f"{t} ({len(c)} columns)" for t, c in sorted(job.data_access.items()))
    return _allow("data_access", f"reads only allowed data: {tables}")


def secure_aggregation(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    mode = state.policy.privacy.secure_aggregation
    if not job.secure_aggregation:
        if mode is SecureAggregation.REQUIRED:
            return _deny(
                "secure_aggregation", "this site requires secure aggregation and the study does not ask for it"
            )
        return _allow("secure_aggregation", "the coordinator sees this site's update (no secure aggregation)")
    if mode is SecureAggregation.OFF:
        return _deny("secure_aggregation", "the study asks for secure aggregation, which this site's policy turns off")
    if job.algorithm in INDIVIDUAL_UPDATE_ALGORITHMS:
        return _deny(
            "secure_aggregation",
            f"{job.algorithm} needs each site's update in the clear and cannot be combined with secure aggregation "
            "(robust aggregators: median, trimmed mean, geometric median, FLTrust, norm clipping; SCAFFOLD)",
        )
    return _allow(
        "secure_aggregation", "securely aggregated: the coordinator learns only the sum of the sites' masked updates"
    )


def differential_privacy(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    dp_policy = state.policy.privacy.dp
    dp = job.dp
    if dp is None:
        if dp_policy.required:
            return _deny("differential_privacy", "the site requires differential privacy; the job declares none")
        return _warn("differential_privacy", "the job trains without differential privacy (allowed here)")
    problems = []
    if dp.noise_multiplier < dp_policy.min_noise_multiplier:
        problems.append(f"noise multiplier {dp.noise_multiplier} < {dp_policy.min_noise_multiplier}")
    if dp.max_grad_norm > dp_policy.max_grad_norm:
        problems.append(f"clipping norm {dp.max_grad_norm} > {dp_policy.max_grad_norm}")
    if dp.target_epsilon > dp_policy.max_epsilon_per_job:
        problems.append(f"epsilon {dp.target_epsilon} > {dp_policy.max_epsilon_per_job} per job")
    if not 0 < dp.delta <= dp_policy.delta:
        problems.append(f"delta {dp.delta:g} > {dp_policy.delta:g}")
    if dp.target_epsilon <= 0:
        problems.append("epsilon must be positive")
    if dp.accountant not in {"prv", "rdp"}:
        problems.append(f"unknown accountant {dp.accountant}")
    if problems:
        return _deny("differential_privacy", "DP parameters outside the policy: " + "; ".join(problems))
    return _allow(
        "differential_privacy",
        f"DP-SGD with noise {dp.noise_multiplier}, clipping {dp.max_grad_norm}, "
        f"epsilon {dp.target_epsilon}, delta {dp.delta:g}",
    )


def privacy_budget(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    budgets = state.policy.privacy.budgets
    if job.dataset not in budgets:
        return _deny("privacy_budget", f"dataset {job.dataset} has no privacy budget in the policy")
    if job.dp is None:
        if state.policy.privacy.dp.required:
            return _deny("privacy_budget", "a job without DP parameters cannot be charged to the budget")
        return _warn("privacy_budget", f"no DP: nothing is charged to the budget of {job.dataset}")
    remaining = state.budget_remaining.get(job.dataset)
    if remaining is None:
        return _deny("privacy_budget", f"the remaining budget of {job.dataset} is not known")
    remaining = min(remaining, budgets[job.dataset])
    if job.dp.target_epsilon > remaining + 1e-12:
        return _deny(
            "privacy_budget",
            f"the job needs epsilon {job.dp.target_epsilon} but {job.dataset} has {remaining:.4g} left",
        )
    return _allow(
        "privacy_budget",
        f"charges epsilon {job.dp.target_epsilon} of {remaining:.4g} left for {job.dataset} "
        f"(total {budgets[job.dataset]:g})",
    )


def privacy_scope(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    scope = job.pinned_meta.get("scope")
    if scope in (None, "", PRIVACY_SCOPE):
        filters = ", ".join(f.kind.value for f in state.policy.privacy.result_filters) or "none"
        return _allow("privacy_scope", f"runs in the site scope {PRIVACY_SCOPE!r} with result filters: {filters}")
    return _deny("privacy_scope", f"the job asks for privacy scope {scope!r}; this site defines only {PRIVACY_SCOPE!r}")


def app_digest(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    mismatched = content_mismatches(job.files)
    if mismatched:
        return _deny("app_digest", f"{mismatched[0]}: the content shown differs from its stated hash")
    recomputed = files_digest(job.files)
    if recomputed != job.digest:
        return _deny("app_digest", "the stated app digest does not match the files")
    return _allow("app_digest", f"app digest {recomputed[:16]}… matches {len(job.files)} files")


def app_size(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    total = sum(f.size for f in job.files)
    limit = state.policy.jobs.max_app_bytes
    if total > limit:
        return _deny("app_size", f"the app is {total} bytes; the limit is {limit}")
    return _allow("app_size", f"the app is {total} bytes (limit {limit})")


def code_scan(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    forbidden = {c.value for c in state.policy.jobs.forbidden_capabilities} | ALWAYS_REFUSED
    denied = [f for f in findings if f.severity == DENY and f.capability in forbidden]
    if denied:
        shown = "; ".join(f"{f.capability} at {f.file}:{f.line}" for f in denied[:5])
        more = f" and {len(denied) - 5} more" if len(denied) > 5 else ""
        return _deny("code_scan", f"{len(denied)} forbidden use(s): {shown}{more}")
    if findings:
        return _warn("code_scan", f"{len(findings)} finding(s) to review at their lines, none forbidden here")
    n = sum(1 for f in job.files if f.path.endswith(".py"))
    return _allow("code_scan", f"no forbidden capability in {n} Python file(s)")


def time_window(job: JobManifest, state: SiteState, findings: tuple[Finding, ...]) -> RuleResult:
    windows = state.policy.schedule.windows
    if not windows:
        return _allow("time_window", "jobs may run at any time")
    local = state.now.astimezone(state.policy.zone)
    today, now_t = local.weekday(), local.time().replace(tzinfo=None)
    yesterday = (local - timedelta(days=1)).weekday()
    for w in windows:
        days = {WEEKDAY_INDEX[d] for d in w.days}
        if w.start < w.end:
            inside = today in days and w.start <= now_t < w.end
        else:  # wraps past midnight: from start on a listed day until end the next morning
            inside = (today in days and now_t >= w.start) or (yesterday in days and now_t < w.end)
        if inside:
            return _allow("time_window", f"inside the window {w.start:%H:%M}-{w.end:%H:%M} {state.policy.zone.key}")
    return _deny(
        "time_window", f"outside the allowed time windows ({local:%a %H:%M} {state.policy.zone.key}); try later"
    )


RULES: tuple[Rule, ...] = (
    legal_basis,
    ethics_approval,
    data_use_agreement,
    coordinator,
    submitter,
    job_kind,
    algorithm,
    rounds,
    min_sites,
    local_records,
    data_access,
    secure_aggregation,
    differential_privacy,
    privacy_budget,
    privacy_scope,
    app_digest,
    app_size,
    code_scan,
    time_window,
)
"""Every rule, in the order the dashboard shows them."""
