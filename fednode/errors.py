"""All of fednode's exceptions, in one tree.

::

    FednodeError                      root; carries the exit code the CLI maps it to
    ├── ConfigError                   settings or a configuration file is invalid        (exit 2)
    ├── BadInputError                 input data is malformed: names file, line, field   (exit 4)
    │   ├── EtlInputError             a source extract or vocabulary file
    │   ├── NoteInputError            a clinical-notes file for de-identification
    │   ├── NerDataError              NER training data (CoNLL file, gold spans) is malformed
    │   ├── AggregationInputError     model updates that cannot be aggregated (keys, shapes, dtypes)
    │   ├── ManifestError             a job manifest in the NVFlare job meta is missing or malformed
    │   ├── JobFolderError            a job folder cannot be reviewed (not a job, links, compiled files, too large)
    │   └── PolicyFileError           a site policy YAML or compiled site file
    ├── RefusedByPolicyError          the site policy denies the request                 (exit 3)
    │   ├── BudgetExceededError       the privacy budget cannot cover the request
    │   ├── ApprovalRefusedError      an approval is not allowed (denied verdict, same approver twice, bad TOTP)
    │   ├── JobStateError             a job transition its current state does not allow (e.g. run a rejected job)
    │   ├── ByocConfigError           a BYOC job's config cannot run confined (what to change is in the message)
    │   ├── StagingRefusedError       the site will not stage its data for a job (not approved, data_access)
    │   ├── EgressBlockedError        a task result leaving the site failed the egress checks
    │   └── SandboxUnavailableError   the kernel cannot confine job code here, so BYOC jobs are refused
    ├── IntegrityError                something was tampered with or does not match       (exit 5)
    │   ├── AuditChainError           the audit chain is broken; names the first bad record
    │   ├── DigestMismatchError       deployed bytes differ from the approved digest
    │   ├── CheckpointError           a coordinator checkpoint is unreadable, torn or for another job
    │   └── SignatureError            a signature does not verify
    ├── NotFoundError                 a job, study or record that was asked for does not exist (exit 4)
    ├── DataQualityError              the data-quality gate failed                        (exit 4)
    │   └── DeidTargetsMissedError    the de-identifier missed a quality target on a gold set
    └── ServiceError                  an external component failed (database, NVFlare)   (exit 1)
        ├── QuorumNotMetError         fewer site updates arrived than the round's min_clients
        ├── SecureAggregationError    a secure-aggregation round cannot finish (below its threshold, bad message)
        └── SandboxError              a job sandbox spec is malformed or confinement failed

Messages never contain patient text or identifiers: they name files, lines, fields, ids and reasons only.
"""

from __future__ import annotations

from fednode.exitcodes import ExitCode


class FednodeError(Exception):
    """Root of every fednode error."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.title = title or type(self).__name__


class ConfigError(FednodeError):
    """Settings or a configuration file is invalid."""

    exit_code = ExitCode.USAGE


class BadInputError(FednodeError):
    """Input data is malformed. The message names the file, line and field."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        title: str | None = None,
    ) -> None:
        where = ":".join(str(p) for p in (file, line) if p is not None)
        if field:
            where = f"{where} field {field!r}" if where else f"field {field!r}"
        super().__init__(f"{where}: {message}" if where else message, title=title)
        self.file = file
        self.line = line
        self.field = field


class EtlInputError(BadInputError):
    """A Synthea extract or vocabulary file is malformed."""


class NoteInputError(BadInputError):
    """A clinical-notes file is malformed."""


class NerDataError(BadInputError):
    """NER training or evaluation data (a CoNLL/TSV file, gold spans from the CDM) is malformed."""


class AggregationInputError(BadInputError):
    """Model updates cannot be aggregated: missing keys, mismatched shapes or non-float tensors."""


class ManifestError(BadInputError):
    """A job manifest carried in the NVFlare job meta is missing or malformed."""


class JobFolderError(BadInputError):
    """A job folder on disk cannot be reviewed: not an NVFlare job, symbolic links, special or compiled files,
    over the size limit, or an embedded manifest that no longer matches the folder's files."""


class PolicyFileError(BadInputError):
    """A site policy YAML or a compiled NVFlare site file is invalid."""


class RefusedByPolicyError(FednodeError):
    """The site policy denies the request."""

    exit_code = ExitCode.REFUSED_BY_POLICY


class BudgetExceededError(RefusedByPolicyError):
    """The privacy budget cannot cover the request."""


class ApprovalRefusedError(RefusedByPolicyError):
    """An approval is not allowed (denied verdict, repeated approver, bad second factor)."""


class JobStateError(RefusedByPolicyError):
    """A job transition that the job's current state does not allow (run a rejected job, approve a running one)."""


class StagingRefusedError(RefusedByPolicyError):
    """The site will not stage its data for a job: not approved, or a column it needs is outside ``data_access``."""


class ByocConfigError(RefusedByPolicyError):
    """A BYOC job's client config asks for something the site cannot run confined; the message says what to change."""


class EgressBlockedError(RefusedByPolicyError):
    """A task result leaving the site failed the egress checks (unexpected keys, shapes, dtypes or text)."""


class IntegrityError(FednodeError):
    """Something was tampered with or does not match what was approved."""

    exit_code = ExitCode.INTEGRITY_FAILURE


class AuditChainError(IntegrityError):
    """The audit hash chain is broken."""

    def __init__(self, message: str, *, first_bad_seq: int | None = None) -> None:
        super().__init__(message)
        self.first_bad_seq = first_bad_seq


class DigestMismatchError(IntegrityError):
    """Deployed job bytes differ from the approved digest."""


class SignatureError(IntegrityError):
    """A signature does not verify."""


class DeidModelError(IntegrityError):
    """A de-identification model shipped with the package is missing, unreadable, or out of step with its card
    or with the code that computes its features. The message names the file and what is wrong."""


class CheckpointError(IntegrityError):
    """A coordinator checkpoint cannot be trusted: unreadable, torn (a file does not hash to what the checkpoint
    names) or for another job digest or study. The message names the checkpoint folder and what is wrong."""


class NotFoundError(FednodeError):
    """A job, study or record that was asked for does not exist."""

    exit_code = ExitCode.BAD_INPUT


class DataQualityError(FednodeError):
    """The data-quality gate failed."""

    exit_code = ExitCode.BAD_INPUT


class DeidTargetsMissedError(DataQualityError):
    """``fednode deid eval``: the de-identifier missed a quality target (recall, precision, distractors)."""


class ServiceError(FednodeError):
    """An external component (database, NVFlare) failed."""

    exit_code = ExitCode.INTERNAL


class QuorumNotMetError(ServiceError):
    """Fewer site updates arrived than the round's ``min_clients``: the round cannot be aggregated."""

    def __init__(self, message: str, *, arrived: int, required: int) -> None:
        super().__init__(message)
        self.arrived = arrived
        self.required = required


class SecureAggregationError(ServiceError):
    """A secure-aggregation round cannot finish: fewer sites than its threshold remain, or a protocol message is
    malformed. The message says which stage and why; the round fails instead of revealing an update."""


class SandboxUnavailableError(RefusedByPolicyError):
    """The kernel cannot confine job code (no Landlock, or too old an ABI): BYOC jobs are refused here."""


class SandboxError(ServiceError):
    """A job sandbox spec is malformed, or confining the job process failed (it then never runs)."""
