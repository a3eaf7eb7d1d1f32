"""What a reviewer must know about a bring-your-own-code job besides its code: the facts behind the review.

:func:`byoc_review` gathers, from the job record and the site policy (no I/O but what the caller passes in):

* the scan's findings split into denials and warnings (a warning is shown at its line and never blocks approval:
  the sandbox enforces at run time what the scan could not decide);
* what the sandbox will allow the job's training process (``node.site.joblauncher`` builds the same spec at
  launch): the paths it may read and write, its one network channel, and the policy's ``sandbox`` limits;
* the data staged for it (``node.site.staging``): the files, the CDM tables and columns they come from, and the
  site's live record count against ``min_local_records``;
* whether the site adds its own DP noise at egress (``node.site.release_rule``): noise multiplier, clip norm, and
  the epsilon the site's accountant charges for the job's rounds beside the epsilon the job declares.

The dashboard (``tui``, through the desk) and ``fednode jobs --job JOB`` show the same :class:`ByocReview`.
Approving still binds the exact bytes (the manifest digest) as for any job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fednode.errors import ByocConfigError
from node.site.byoc_config import plan_client_config_text
from node.site.byoc_rule import CLIENT_CONFIG
from policies.contracts import Finding, JobKind, JobRecord
from policies.policy_model import SitePolicy

CODE_FOLDER = "job_code"
"""Where the launcher moves the app's ``custom/`` before the job starts (``node.site.joblauncher.CODE_FOLDER``;
a test keeps the two equal: the launcher module imports NVFlare, which the desk does not need)."""
SYSTEM_FILES = ("/etc/hosts", "/etc/host.conf", "/etc/gai.conf", "/etc/mime.types")
"""Read-only system files of the job (``node.site.joblauncher.SYSTEM_FILES``, kept equal by a test)."""
NEVER = (
    "state.db",
    "omop.db (the CDM)",
    "keys/ (the site key)",
    "the startup kit",
    "other jobs' folders",
    "/proc/*/environ",
    "any other file outside the paths above",
)
"""What the job can never reach (the kernel's Landlock rules; the audit hook reports attempts)."""
DATA_DIR, MODEL_DIR = "data", "model"
"""The staged folders in the job's working directory (``node.site.staging``; importing it loads torch)."""
NETWORK = "none, except TCP to the one loopback port of NVFlare's channel to this job's process"


@dataclass(frozen=True)
class SandboxPath:
    """One path the job's process may use, as the job sees it (relative paths: in its working directory)."""

    path: str
    access: str  # "read-write" or "read-only"
    what: str


@dataclass(frozen=True)
class SandboxLimits:
    """The policy's ``sandbox`` section: kernel limits on the job's training process."""

    memory_mib: int | None
    max_processes: int
    wall_minutes: int
    cpu_minutes: int | None
    file_size_mib: int


@dataclass(frozen=True)
class StagedTable:
    """One CDM table the staged files are derived from, and the columns read."""

    table: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class StagedView:
    """The data the site stages for the job (``node.site.staging``), before it runs."""

    files: tuple[str, ...]
    tables: tuple[StagedTable, ...]
    records: int | None
    """Distinct annotated notes in the site's CDM now (the count staged and checked); None: not known."""
    min_records: int
    refusal: str | None = None
    """Why no data would be staged (a column the policy or the job does not allow); None: it would be."""


@dataclass(frozen=True)
class SiteDpView:
    """Whether the site adds its own DP noise to the job's results at egress, and what it charges."""

    required: bool
    applied: bool
    noise_multiplier: float | None
    clip_norm: float
    delta: float
    rounds: int
    epsilon: float | None
    """Epsilon the site's accountant charges for the job's rounds; None where no noise is added."""
    declared_epsilon: float | None
    """What the job's manifest declares (shown, never trusted)."""
    summary: str


@dataclass(frozen=True)
class ByocReview:
    """The facts a reviewer sees for a BYOC job beside its files (see the module doc)."""

    job_id: str
    digest: str
    byoc: bool
    script: str | None
    """The training script as the site runs it (``job_code/<script>.py args``); None: not runnable confined."""
    config_problem: str | None
    denials: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    paths: tuple[SandboxPath, ...]
    never: tuple[str, ...]
    network: str
    limits: SandboxLimits
    staged: StagedView
    site_dp: SiteDpView
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (for ``fednode jobs --job JOB --json``)."""
        data = asdict(self)
        data["denials"] = [asdict(f) for f in self.denials]
        data["warnings"] = [asdict(f) for f in self.warnings]
        return data


def byoc_review(
    record: JobRecord,
    policy: SitePolicy,
    *,
    local_records: int | None = None,
    budget_remaining: float | None = None,
) -> ByocReview:
    """The review facts of ``record`` under ``policy``; ``local_records`` is the site's live record count and
    ``budget_remaining`` the epsilon left on the job's dataset (both None when not known)."""
    manifest = record.manifest
    byoc = manifest.kind is JobKind.BYOC
    findings = record.verdict.findings
    script, problem = _script(record) if byoc else (None, None)
    notes: list[str] = []
    if not byoc:
        notes.append("config-only job: the site's own reviewed trainer runs it; no job code runs at this site")
    return ByocReview(
        job_id=record.job_id,
        digest=manifest.digest,
        byoc=byoc,
        script=script,
        config_problem=problem,
        denials=tuple(f for f in findings if f.severity != "warn"),
        warnings=tuple(f for f in findings if f.severity == "warn"),
        paths=sandbox_paths(),
        never=NEVER,
        network=NETWORK,
        limits=_limits(policy),
        staged=staged_view(record, policy, local_records),
        site_dp=site_dp_view(record, policy, budget_remaining),
        notes=tuple(notes),
    )


def sandbox_paths() -> tuple[SandboxPath, ...]:
    """The paths the launcher's sandbox spec grants, as the job sees them."""
    return (
        SandboxPath(".", "read-write", "its working directory (the app folder; HOME and TMPDIR are inside it)"),
        SandboxPath(f"{CODE_FOLDER}/", "read-only", "the job's own code (the app's custom/, moved there)"),
        SandboxPath(f"{DATA_DIR}/", "read-only", "the staged training and dev split"),
        SandboxPath(f"{MODEL_DIR}/", "read-only", "the base checkpoint's tokenizer and config (no weights)"),
        SandboxPath("the Python runtime", "read-only", "interpreter, libraries; only the interpreter may be run"),
        SandboxPath(", ".join(SYSTEM_FILES), "read-only", "name resolution of localhost, MIME types"),
        SandboxPath("/dev/null, /dev/shm", "read-write", "null device, shared memory (torch workers)"),
    )


def _script(record: JobRecord) -> tuple[str | None, str | None]:
    by_path = {f.path: f for f in record.manifest.files}
    config = by_path.get(CLIENT_CONFIG)
    if config is None or config.content is None:
        return None, f"a BYOC app needs a readable {CLIENT_CONFIG} (NVFlare's Client API job layout)"
    try:
        task = plan_client_config_text(config.content)
    except ByocConfigError as exc:
        return None, exc.message
    if task.app_path not in by_path:
        return None, f"the training script {task.app_path} named in the config is not in the app"
    return " ".join([f"{CODE_FOLDER}/{task.script}", *task.args]), None


def _limits(policy: SitePolicy) -> SandboxLimits:
    s = policy.sandbox
    return SandboxLimits(s.memory_mib, s.max_processes, s.wall_minutes, s.cpu_minutes, s.file_size_mib)


def staged_view(record: JobRecord, policy: SitePolicy, local_records: int | None) -> StagedView:
    """What ``node.site.staging`` would stage for the job, and whether it would refuse (imports torch)."""
    from node.site.staging import DEV_FILE, NER_SPLIT_COLUMNS, TRAIN_FILE

    files = (
        f"{DATA_DIR}/{TRAIN_FILE}",
        f"{DATA_DIR}/{DEV_FILE}",
        f"{MODEL_DIR}/ (tokenizer files, config.json)",
    )
    tables = tuple(StagedTable(t, tuple(c)) for t, c in NER_SPLIT_COLUMNS.items())
    refusal = _refusal(policy.data_access, "the site policy's data_access") or _refusal(
        record.manifest.data_access, "the job's declared data_access"
    )
    return StagedView(files, tables, local_records, policy.jobs.min_local_records, refusal)


def _refusal(allowed: Mapping[str, Any], whose: str) -> str | None:
    from node.site.staging import missing_columns

    missing = missing_columns(allowed)
    if not missing:
        return None
    return f"{whose} does not allow {', '.join(missing)}: nothing would be staged"


def site_dp_view(record: JobRecord, policy: SitePolicy, budget_remaining: float | None = None) -> SiteDpView:
    """The site's DP at egress for the job (the numbers of the ``site_dp`` verdict rule)."""
    manifest = record.manifest
    dp = policy.privacy.dp
    declared = manifest.dp.target_epsilon if manifest.dp is not None else None
    rounds = manifest.rounds
    if manifest.kind is not JobKind.BYOC:
        summary = "config-only job: the site's trainer applies the policy's DP-SGD"
        return SiteDpView(dp.required, False, None, dp.site_clip_norm, dp.delta, rounds, None, declared, summary)
    if not dp.required:
        summary = "no site noise: DP is not required; results are rounded and bounded at egress"
        return SiteDpView(False, False, None, dp.site_clip_norm, dp.delta, rounds, None, declared, summary)
    if dp.site_noise_multiplier is None:
        summary = "DP is required but the policy sets no site noise (privacy.dp.site_noise_multiplier): denied"
        return SiteDpView(True, False, None, dp.site_clip_norm, dp.delta, rounds, None, declared, summary)
    epsilon = _site_epsilon(dp.site_clip_norm, dp.site_noise_multiplier, rounds, dp.delta, dp.accountant)
    summary = (
        f"the site clips every update to {dp.site_clip_norm:g} and adds Gaussian noise x{dp.site_noise_multiplier:g}"
        f" at egress: epsilon {epsilon:.3g} over {rounds} rounds (delta {dp.delta:g})"
    )
    if declared is not None:
        summary += f"; the job declares epsilon {declared:g} (not trusted)"
    if epsilon > dp.max_epsilon_per_job:
        summary += f"; over the {dp.max_epsilon_per_job:g} allowed per job"
    elif budget_remaining is not None and epsilon > budget_remaining:
        summary += f"; over the {budget_remaining:.3g} left for {manifest.dataset}"
    return SiteDpView(
        True, True, dp.site_noise_multiplier, dp.site_clip_norm, dp.delta, rounds, epsilon, declared, summary
    )


def _site_epsilon(clip_norm: float, noise_multiplier: float, rounds: int, delta: float, accountant: str) -> float:
    """What the site's accountant charges: the same computation as the ``site_dp`` rule (imports torch lazily)."""
    from node.site.release import SiteDp
    from policies.ledger import epsilon_of

    multiplier = SiteDp(clip_norm, noise_multiplier).record_multiplier
    epsilon = epsilon_of([(multiplier, 1.0, rounds)], delta, accountant)
    return epsilon if math.isfinite(epsilon) else math.inf


__all__ = [
    "ByocReview",
    "SandboxLimits",
    "SandboxPath",
    "SiteDpView",
    "StagedTable",
    "StagedView",
    "byoc_review",
    "sandbox_paths",
    "site_dp_view",
    "staged_view",
]
