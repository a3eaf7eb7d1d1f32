"""The site policy: one YAML file, validated strictly (unknown keys refused), with a stable digest.

``load_policy(path)`` is the one way in. Every validation problem becomes a
:class:`~fednode.errors.PolicyFileError` that names the file and the key path (``privacy.dp.delta``),
never the value of a secret. ``policy_digest(policy)`` is the sha256 of the canonical JSON form, which
approval receipts and verdicts carry so a decision can be tied to the exact policy that made it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from fednode.errors import PolicyFileError
from policies.approver_keys import ApproverKey, SshsigError
from policies.contracts import JobKind

POLICY_VERSION = 1

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=63)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Art6Basis(StrEnum):
    """GDPR article 6(1) lawful bases."""

    CONSENT = "consent"  # 6(1)(a)
    CONTRACT = "contract"  # 6(1)(b)
    LEGAL_OBLIGATION = "legal_obligation"  # 6(1)(c)
    VITAL_INTERESTS = "vital_interests"  # 6(1)(d)
    PUBLIC_TASK = "public_task"  # 6(1)(e)
    LEGITIMATE_INTERESTS = "legitimate_interests"  # 6(1)(f)


class Art9Basis(StrEnum):
    """GDPR article 9(2) conditions for special categories (health data)."""

    EXPLICIT_CONSENT = "explicit_consent"  # 9(2)(a)
    EMPLOYMENT_SOCIAL_SECURITY = "employment_social_security"  # 9(2)(b)
    VITAL_INTERESTS = "vital_interests"  # 9(2)(c)
    NOT_FOR_PROFIT_BODY = "not_for_profit_body"  # 9(2)(d)
    MADE_PUBLIC = "made_public"  # 9(2)(e)
    LEGAL_CLAIMS = "legal_claims"  # 9(2)(f)
    SUBSTANTIAL_PUBLIC_INTEREST = "substantial_public_interest"  # 9(2)(g)
    HEALTH_OR_SOCIAL_CARE = "health_or_social_care"  # 9(2)(h)
    PUBLIC_HEALTH = "public_health"  # 9(2)(i)
    SCIENTIFIC_RESEARCH = "scientific_research"  # 9(2)(j)


ART6_LETTER = dict(zip(Art6Basis, "abcdef", strict=True))
ART9_LETTER = dict(zip(Art9Basis, "abcdefghij", strict=True))


class Algorithm(StrEnum):
    """Aggregation algorithms a job may use (node implements each)."""

    FEDAVG = "fedavg"
    FEDPROX = "fedprox"
    SCAFFOLD = "scaffold"
    MEDIAN = "median"  # coordinate-wise median
    TRIMMED_MEAN = "trimmed_mean"
    GEOMETRIC_MEDIAN = "geometric_median"
    NORM_CLIP = "norm_clip"
    FLTRUST = "fltrust"


class SecureAggregation(StrEnum):
    """Whether this site's updates must, may or may not be securely aggregated (``privacy.secure_aggregation``)."""

    REQUIRED = "required"  # only jobs that ask for it; a train result that is not masked never leaves
    ALLOWED = "allowed"  # a job may ask for it
    OFF = "off"  # jobs asking for it are refused


ROBUST_ALGORITHMS = frozenset({"median", "trimmed_mean", "geometric_median", "fltrust", "norm_clip", "norm_clipping"})
"""Aggregators that need each site's update in the clear: they cannot be combined with secure aggregation."""
INDIVIDUAL_UPDATE_ALGORITHMS = ROBUST_ALGORITHMS | {"scaffold"}
"""Robust aggregators and SCAFFOLD (its per-site control difference travels in the clear)."""


class Capability(StrEnum):
    """What job code may reach; the static scan reports findings under these names."""

    NETWORK = "network"
    SUBPROCESS = "subprocess"
    FILESYSTEM = "filesystem"  # outside the job workspace
    DYNAMIC_CODE = "dynamic_code"
    DESERIALISATION = "deserialisation"
    ENVIRONMENT = "environment"
    NATIVE_CODE = "native_code"


class ResultFilter(StrEnum):
    """Result filters the site can impose on everything a job sends out (see ``policies.compile``)."""

    EXCLUDE_VARS = "exclude_vars"  # NVFlare ExcludeVars
    PERCENTILE_PRIVACY = "percentile_privacy"  # NVFlare PercentilePrivacy
    SVT_PRIVACY = "svt_privacy"  # NVFlare SVTPrivacy
    WEIGHTS_ONLY = "weights_only"  # NVFlare DXOBlocker allowing model weights/diffs and metrics only
    NORM_CLIP = "norm_clip"  # node.site.filters.UpdateNormClip
    DP_BUDGET = "dp_budget"  # node.site.filters.DpBudgetFilter
    EGRESS_SCHEMA = "egress_schema"  # node.site.filters.EgressSchemaFilter


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAY_INDEX = {day: i for i, day in enumerate(Weekday)}


class CertIdentity(_Strict):
    """A certificate identity: common name and/or organisation. An omitted name means anyone of that org."""

    name: Name | None = Field(None, description="Certificate common name (e-mail or host).")
    org: Name = Field(description="Certificate organisation.")

    def matches(self, name: str, org: str) -> bool:
        same_org = _norm(self.org) == _norm(org)
        return same_org and (self.name is None or _norm(self.name) == _norm(name))

    def __str__(self) -> str:
        return f"{self.name} / {self.org}" if self.name else f"* / {self.org}"


class SiteSection(_Strict):
    """Who this site is and which key signs its receipts and audit checkpoints."""

    name: Name = Field(description="The site's name in the federation (its client certificate CN).")
    organisation: Name = Field(description="The hospital (certificate organisation).")
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(description="ISO 3166-1 alpha-2.")
    signing_key: Path = Field(description="Ed25519 private key (PEM); relative paths are under FEDNODE_HOME.")


class Approval(_Strict):
    """An ethics approval or data-use agreement: an id and the last day it is valid."""

    id: Name
    expires: date = Field(description="Last valid day (inclusive, in the site's time zone).")


class LegalSection(_Strict):
    """The legal ground for processing, and the documents that must be in force."""

    gdpr_art6_basis: Art6Basis
    gdpr_art9_basis: Art9Basis
    ethics_approval: Approval
    data_use_agreement: Approval


class ParticipantsSection(_Strict):
    """Which coordinators this site talks to and who may submit jobs to it."""

    coordinators: Annotated[list[CertIdentity], Field(min_length=1)]
    submitters: Annotated[list[CertIdentity], Field(min_length=1)]


class JobsSection(_Strict):
    """What a job may be."""

    kinds: Annotated[list[JobKind], Field(min_length=1)] = Field(
        default_factory=lambda: [JobKind.CONFIG_ONLY], description="config_only and/or byoc."
    )
    algorithms: Annotated[list[Algorithm], Field(min_length=1)] = Field(
        default_factory=lambda: [Algorithm.FEDAVG, Algorithm.FEDPROX, Algorithm.SCAFFOLD]
    )
    max_rounds: int = Field(50, ge=1, le=100_000)
    min_sites: int = Field(3, ge=1, description="Fewest sites whose updates are aggregated (job min_clients).")
    min_local_records: int = Field(100, ge=0, description="Fewest local training records this site must hold.")
    max_app_bytes: int = Field(2 * 1024 * 1024, ge=1, description="Largest app (all files) the site accepts.")
    forbidden_capabilities: list[Capability] = Field(default_factory=lambda: list(Capability))
    byoc_components: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*$")]] = Field(
        default_factory=list,
        description="Class paths a BYOC job's client config may name beyond the built-in table "
        "(policies.codescan.CLIENT_COMPONENTS); NVFlare skips its own allow-list for BYOC jobs.",
    )


class SandboxSection(_Strict):
    """Limits on a BYOC job's confined training process (enforced by the kernel at run time, see docs/policy.md).

    The process gets no network but its one loopback channel to the site's job process, and file access only to
    its working directory, the staged data and the Python runtime; these are the resource limits on top.
    """

    memory_mib: int | None = Field(
        8192, ge=256, le=4_194_304, description="Address-space limit per process (RLIMIT_AS), MiB; null: none."
    )
    max_processes: int = Field(
        4096,
        ge=1,
        le=65_536,
        description="Processes and threads the job may start (RLIMIT_NPROC headroom over the site user's tasks). "
        "The kernel counts every task of the site's user, also in other containers and the site's own job "
        "process, which it cannot see from here: keep it generous (the site's own NVFlare threads grow while the "
        "job runs); the container's pids limit is the hard bound on a fork bomb.",
    )
    wall_minutes: int = Field(
        24 * 60, ge=1, le=30 * 24 * 60, description="Longest the training process may run, minutes (whole job)."
    )
    cpu_minutes: int | None = Field(None, ge=1, description="CPU time limit (RLIMIT_CPU), minutes; null: none.")
    file_size_mib: int = Field(16_384, ge=1, description="Largest file the job may write (RLIMIT_FSIZE), MiB.")


class DpSection(_Strict):
    """Differential privacy the site imposes on training (DP-SGD)."""

    required: bool = True
    max_epsilon_per_job: float = Field(3.0, gt=0, le=100)
    delta: float = Field(1e-5, gt=0, lt=1, description="Largest delta a job may use.")
    min_noise_multiplier: float = Field(0.5, ge=0)
    max_grad_norm: float = Field(1.0, gt=0, description="Largest per-sample clipping norm.")
    accountant: str = Field("prv", pattern=r"^(prv|rdp)$")
    site_noise_multiplier: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="Bring-your-own-code jobs: the site's own Gaussian noise on every update at egress, as a multiple "
        "of site_clip_norm (the site cannot verify job code's DP-SGD). Needed for BYOC jobs when DP is required.",
    )
    site_clip_norm: float = Field(1.0, gt=0, description="BYOC jobs: the L2 norm every update is clipped to at egress.")


class FilterSpec(_Strict):
    """A result filter and its arguments (checked by the compiler against the filter's signature)."""

    kind: ResultFilter
    args: dict[str, Any] = Field(default_factory=dict)


class PrivacySection(_Strict):
    dp: DpSection = DpSection()
    budgets: Annotated[dict[Identifier, Annotated[float, Field(gt=0, le=1000)]], Field(min_length=1)] = Field(
        description="Total epsilon per dataset across all jobs."
    )
    result_filters: list[FilterSpec] = Field(default_factory=list)
    secure_aggregation: SecureAggregation = Field(
        SecureAggregation.ALLOWED,
        description="required: only securely aggregated jobs (the coordinator learns the sum of the sites' updates, "
        "never this site's); allowed: a job may ask for it; off: jobs asking for it are refused.",
    )

    @model_validator(mode="after")
    def _dp_fits_budget(self) -> Self:
        for dataset, total in self.budgets.items():
            if self.dp.required and self.dp.max_epsilon_per_job > total:
                raise ValueError(
                    f"max_epsilon_per_job {self.dp.max_epsilon_per_job} exceeds the whole budget of {dataset!r}"
                )
        kinds = [f.kind for f in self.result_filters]
        if len(kinds) != len(set(kinds)):
            raise ValueError("a result filter kind is listed twice")
        return self


class ApproverIdentity(StrEnum):
    """How an approval says who approved."""

    KEY = "key"  # a signature by the approver's own enrolled key (the default; four eyes = two keys)
    NAME = "name"  # a typed name (+ TOTP): a claim, not an identity; for demos and tests only


class ApprovalSection(_Strict):
    """Who approves a job here, how many distinct people, and how an approval proves who made it.

    ``approvers`` lists names, or ``{name, key}`` entries that enrol the approver's OpenSSH public key (also
    accepted as ``keys: {name: "ssh-ed25519 AAAA... comment"}``). With ``identity: key`` (the default) an approval
    is a signature by an enrolled key and four eyes means distinct keys; an approver without a key cannot approve.
    """

    approvers: Annotated[list[Name], Field(min_length=1)]
    keys: dict[Name, Annotated[str, StringConstraints(strip_whitespace=True, max_length=16_384)]] = Field(
        default_factory=dict, description="Each approver's OpenSSH public key (type base64 [comment])."
    )
    identity: ApproverIdentity = ApproverIdentity.KEY
    required_approvals: int = Field(1, ge=1, le=10, description="Distinct approvers needed (2 = four eyes).")
    totp_required: bool = True

    @model_validator(mode="before")
    @classmethod
    def _entries_with_keys(cls, data: Any) -> Any:
        """``approvers: [{name, key}]`` entries become a name plus an entry in ``keys``."""
        if not isinstance(data, dict) or not isinstance(data.get("approvers"), list):
            return data
        names: list[Any] = []
        keys = dict(data.get("keys") or {})
        for entry in data["approvers"]:
            if isinstance(entry, dict):
                extra = set(entry) - {"name", "key"}
                if "name" not in entry or extra:
                    raise ValueError("an approver entry is a name or {name, key}")
                names.append(entry["name"])
                if entry.get("key") is not None:
                    if entry["name"] in keys:
                        raise ValueError(f"approver {entry['name']!r} has two keys")
                    keys[entry["name"]] = entry["key"]
            else:
                names.append(entry)
        return {**data, "approvers": names, "keys": keys}

    @field_validator("approvers")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len({_norm(v) for v in value}) != len(value):
            raise ValueError("an approver is listed twice")
        return value

    @model_validator(mode="after")
    def _keys_are_keys(self) -> Self:
        listed = {_norm(a) for a in self.approvers}
        seen: dict[bytes, str] = {}
        for name, text in self.keys.items():
            if _norm(name) not in listed:
                raise ValueError(f"keys: {name!r} is not a listed approver")
            try:
                key = ApproverKey.parse(text)
            except SshsigError as exc:
                raise ValueError(f"keys: {name!r}: {exc}") from None
            if key.blob in seen:
                raise ValueError(f"keys: {name!r} and {seen[key.blob]!r} have the same key; four eyes needs two")
            seen[key.blob] = name
        return self

    @model_validator(mode="after")
    def _enough_people(self) -> Self:
        if self.required_approvals > len(self.approvers):
            raise ValueError(
                f"required_approvals is {self.required_approvals} but only {len(self.approvers)} approvers are listed"
            )
        return self


class TimeWindow(_Strict):
    """A weekly window in the site's time zone; ``end`` before ``start`` wraps past midnight."""

    days: Annotated[list[Weekday], Field(min_length=1)] = Field(default_factory=lambda: list(Weekday))
    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        return self


class ScheduleSection(_Strict):
    timezone: str = "UTC"
    windows: list[TimeWindow] = Field(default_factory=list, description="Empty: any time.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class EvaluationSection(_Strict):
    """Cross-site evaluation: the held-back share of the annotated notes and the smallest group that may be shown."""

    min_support: int = Field(
        10, ge=1, description="Fewest gold mentions a group needs before its figures leave the site (else suppressed)."
    )
    holdout_fraction: float = Field(
        0.2, gt=0, lt=1, description="Share of the annotated notes held back from training for cross-site evaluation."
    )


class SitePolicy(_Strict):
    """The whole site policy. See ``docs/policy.md`` and ``policies/examples/site-policy.yaml``."""

    version: int = Field(POLICY_VERSION, ge=POLICY_VERSION, le=POLICY_VERSION)
    site: SiteSection
    legal: LegalSection
    participants: ParticipantsSection
    jobs: JobsSection = JobsSection()
    privacy: PrivacySection
    data_access: dict[Identifier, list[Identifier]] = Field(
        default_factory=dict, description="OMOP table -> columns a job may read."
    )
    approval: ApprovalSection
    schedule: ScheduleSection = ScheduleSection()
    sandbox: SandboxSection = SandboxSection()
    evaluation: EvaluationSection = EvaluationSection()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)

    def canonical_json(self) -> str:
        """The canonical form the digest covers: JSON, sorted keys, no spaces, dates in ISO 8601."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def policy_digest(policy: SitePolicy) -> str:
    """sha256 (hex) of the policy's canonical JSON form."""
    return hashlib.sha256(policy.canonical_json().encode("utf-8")).hexdigest()


def parse_policy(data: object, *, source: str = "<policy>") -> SitePolicy:
    """Validate an already-parsed mapping; errors name ``source`` and the key path."""
    if not isinstance(data, dict):
        raise PolicyFileError("the policy must be a YAML mapping at the top level", file=source)
    try:
        return SitePolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "<root>"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PolicyFileError(f"{_describe(first)}{more}", file=source, field=path) from None


def load_policy(path: Path) -> SitePolicy:
    """Read and validate the site policy YAML at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(
            "policy file not found; start from policies/examples/site-policy.yaml (docs/policy.md)", file=str(path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"cannot read the policy file ({type(exc).__name__})", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PolicyFileError(f"not valid YAML: {problem}", file=str(path), line=line) from None
    return parse_policy(data, source=str(path))


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (not part of the policy schema)"
    if kind == "missing":
        return "required key is missing"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def _norm(value: str) -> str:
    return " ".join(value.lower().split())


def split_identity(identity: str) -> tuple[str, str]:
    """``"name / org"`` (the manifest's submitter form) -> ``(name, org)``; a bare name has an empty org."""
    name, sep, org = identity.rpartition(" / ")
    return (name.strip(), org.strip()) if sep else (identity.strip(), "")


def format_identity(name: str, org: str) -> str:
    """The manifest's submitter form for a certificate's CN and organisation."""
    return f"{name} / {org}"
