"""The site's signed approval receipt as it travels with a task result, and the egress guard's check of it.

A site proves to the coordinator (and to anyone reading the global model's provenance) that its people approved
the job's exact digest: the built-in trainer attaches the site's signed receipt
(:func:`policies.receipts.issue_receipt`: site, job id, study, job digest, policy digest, verdict rule outcomes,
approver names and times, audit head; no patient data) to each result's DXO meta under
:data:`node.kit.meta.RECEIPT_META_KEY`. :class:`ReceiptIssuer` signs it once per job with the site key and audits
the issue.

The egress guard lets that one meta entry leave only if :func:`receipt_problem` finds nothing: the exact receipt
schema (keys, types, bounded identifiers, hex digests, timestamps, base64 signature), this site and this job,
a signature by this site's key, and the very receipt this site's issuer signed. Anything else stays blocked.

Each result also carries a fresh signed head of the site's audit chain (:meth:`ReceiptIssuer.signed_head`, DXO
meta :data:`node.kit.meta.HEAD_META_KEY`; the receipt's ``audit_head`` is one too), which the coordinator keeps
and countersigns (:mod:`node.coordinator.anchors`). :func:`head_problem` lets it leave only when it is exactly a
head this issuer signed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from fednode.clock import Clock, utc_now
from fednode.errors import BadInputError, FednodeError, NotFoundError, SignatureError
from policies.audit import HEAD_TYPE, AuditEvent, SignedHead
from policies.contracts import JobRecord, RuleOutcome
from policies.keys import SiteKey
from policies.receipts import RECEIPT_VERSION, Receipt, issue_receipt, verify_receipt

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger("fednode.node.site.receipts")


ReceiptCheck = Callable[[object], str | None]
"""Why a receipt found in a result may not leave the site, or ``None`` if it may."""


class _Jobs(Protocol):
    def get(self, job_id: str) -> JobRecord: ...


class _Audit(Protocol):
    def head(self) -> tuple[int, str]: ...

    def signed_head(self) -> SignedHead: ...

    def append(
        self, event: AuditEvent, *, actor: str, job_id: str | None = ..., details: Mapping[str, Any] | None = ...
    ) -> Any: ...


class ReceiptIssuer:
    """Signs this site's approval receipt for a job once per process, audits it, and remembers it."""

    def __init__(self, *, site: str, jobs: _Jobs, key: SiteKey, audit: _Audit | None, clock: Clock = utc_now) -> None:
        self.site = site
        self._jobs = jobs
        self._key = key
        self._audit = audit
        self._clock = clock
        self._issued: dict[str, dict[str, Any]] = {}
        self._heads: deque[dict[str, Any]] = deque(maxlen=256)
        self._lock = threading.Lock()

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key

    def for_job(self, job_id: str) -> dict[str, Any] | None:
        """The signed receipt (JSON) for ``job_id``; ``None`` when this site holds no approved record of it."""
        with self._lock:
            if job_id in self._issued:
                return self._issued[job_id]
            try:
                record = self._jobs.get(job_id)
                head = self._sign_head() if self._audit is not None else None
                receipt = issue_receipt(record, site=self.site, key=self._key, audit_head=head, clock=self._clock)
            except NotFoundError:
                log.warning("receipt.no_record job=%s", job_id)
                return None
            except FednodeError as exc:  # not approved (JobStateError) or state.db unreadable
                log.warning("receipt.not_issued job=%s kind=%s", job_id, exc.title)
                return None
            if self._audit is not None:
                self._audit.append(
                    AuditEvent.RECEIPT_ISSUED,
                    actor="trainer",
                    job_id=job_id,
                    details={"digest": record.manifest.digest, "to": "coordinator"},
                )
            self._issued[job_id] = receipt.to_json()
            log.info("receipt.issued job=%s key=%s", job_id, receipt.key_id)
            return self._issued[job_id]

    def issued(self, job_id: str) -> dict[str, Any] | None:
        """The receipt already issued for ``job_id`` in this process, if any (never issues one)."""
        with self._lock:
            return self._issued.get(job_id)

    def signed_head(self) -> dict[str, Any] | None:
        """The audit chain's current head signed now (JSON), remembered so the egress guard lets exactly it
        leave; ``None`` without an audit log or when state.db cannot be read (logged)."""
        if self._audit is None:
            return None
        try:
            head = self._sign_head()
        except FednodeError as exc:
            log.warning("receipt.head_not_signed kind=%s", exc.title)
            return None
        with self._lock:
            return self._remember(head)

    def head_issued(self, value: object) -> bool:
        """Whether ``value`` is a head this issuer signed (in this process)."""
        with self._lock:
            return any(h == value for h in self._heads)

    def _sign_head(self) -> SignedHead:
        assert self._audit is not None
        head = self._audit.signed_head()
        if head.site != self.site:  # an audit log opened without its site name: sign under this site's name
            head = SignedHead.sign(self._key, site=self.site, seq=head.seq, hash_=head.hash, at=head.at)
        return head

    def _remember(self, head: SignedHead) -> dict[str, Any]:
        value = head.to_json()
        self._heads.append(value)
        return value


# --- the schema the egress guard enforces -----------------------------------------------------------------------

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{86}==")  # base64 of a 64-byte Ed25519 signature
_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}")  # site, job id, app, rule
_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,200}")  # study and approver names: one line, bounded
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(\+00:00|Z)")
_OUTCOMES = frozenset(o.value for o in RuleOutcome)
_BODY_KEYS = frozenset(
    {
        "version",
        "site",
        "job_id",
        "study",
        "app",
        "job_digest",
        "policy_digest",
        "verdict",
        "approvers",
        "required_approvals",
        "issued_at",
    }
)
_MAX_RULES = 64
_MAX_APPROVERS = 10
_APPROVER_KEYS = frozenset({"name", "at", "second_factor"})
_SIGNED_APPROVER_KEYS = _APPROVER_KEYS | {"key", "statement", "signature"}  # policies.approver_keys
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")
_STATEMENT = re.compile(r"fednode-approval-v1\n(?:[a-z-]{1,16}: [^\x00-\x1f\x7f]{1,200}\n){1,8}")
_SSHSIG = re.compile(r"-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]{40,8000}-----END SSH SIGNATURE-----\n")


def _is_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _body_problem(body: Mapping[str, Any]) -> str | None:
    keys = set(body)
    if not keys >= _BODY_KEYS or keys - _BODY_KEYS - {"audit_head", "resumed_from"}:
        return "approval receipt body has missing or unexpected entries"
    if "resumed_from" in body and not _matches(_IDENT, body["resumed_from"]):  # a continued study's first job
        return "approval receipt names are not identifiers"
    if not _is_int(body["version"], RECEIPT_VERSION, RECEIPT_VERSION):
        return "approval receipt has an unknown version"
    if not all(_matches(_IDENT, body[k]) for k in ("site", "job_id", "app")) or not _matches(_LABEL, body["study"]):
        return "approval receipt names are not identifiers"
    if not _matches(_HEX64, body["job_digest"]):
        return "approval receipt job digest is not a sha256"
    if body["policy_digest"] != "" and not _matches(_HEX64, body["policy_digest"]):
        return "approval receipt policy digest is not a sha256"
    if not _matches(_TIME, body["issued_at"]) or not _is_int(body["required_approvals"], 1, _MAX_APPROVERS):
        return "approval receipt time or approval count is malformed"
    verdict = body["verdict"]
    if not isinstance(verdict, Mapping) or set(verdict) != {"allowed", "rules"} or verdict["allowed"] is not True:
        return "approval receipt verdict is malformed"
    rules = verdict["rules"]
    if not isinstance(rules, list) or len(rules) > _MAX_RULES:
        return "approval receipt verdict is malformed"
    for rule in rules:
        if not isinstance(rule, Mapping) or set(rule) != {"rule", "outcome"}:
            return "approval receipt verdict is malformed"
        if not _matches(_IDENT, rule["rule"]) or rule["outcome"] not in _OUTCOMES:
            return "approval receipt verdict is malformed"
    approvers = body["approvers"]
    if not isinstance(approvers, list) or not 1 <= len(approvers) <= _MAX_APPROVERS:
        return "approval receipt approvers are malformed"
    for a in approvers:
        if not isinstance(a, Mapping) or set(a) not in (_APPROVER_KEYS, _SIGNED_APPROVER_KEYS):
            return "approval receipt approvers are malformed"
        if not _matches(_LABEL, a["name"]) or not _matches(_TIME, a["at"]) or not isinstance(a["second_factor"], bool):
            return "approval receipt approvers are malformed"
        if "signature" in a and not (
            _matches(_FINGERPRINT, a["key"])
            and _matches(_STATEMENT, a["statement"])
            and _matches(_SSHSIG, a["signature"])
        ):
            return "approval receipt approver signatures are malformed"
    head = body.get("audit_head")
    if head is None:
        return None
    if isinstance(head, Mapping) and head.get("type") == HEAD_TYPE:
        if head_shape_problem(head, site=body["site"]) is not None:
            return "approval receipt audit head is malformed"
        return None
    if (
        not isinstance(head, Mapping)
        or set(head) != {"seq", "hash"}
        or not _is_int(head["seq"], 0, 2**62)
        or not _matches(_HEX64, head["hash"])
    ):
        return "approval receipt audit head is malformed"
    return None


_HEAD_KEYS = frozenset({"type", "site", "seq", "hash", "at", "key_id", "signature"})


def head_shape_problem(value: object, *, site: str) -> str | None:
    """Why ``value`` is not a well-formed signed audit head of ``site`` (schema only), or ``None``."""
    if not isinstance(value, Mapping) or set(value) != _HEAD_KEYS or value["type"] != HEAD_TYPE:
        return "audit head is not a signed head object"
    if value["site"] != site or not _is_int(value["seq"], 0, 2**62) or not _matches(_HEX64, value["hash"]):
        return "audit head names another site or is malformed"
    if not _matches(_TIME, value["at"]) or not _matches(_KEY_ID, value["key_id"]):
        return "audit head time or key id is malformed"
    if not _matches(_SIGNATURE, value["signature"]):
        return "audit head signature is malformed"
    return None


def head_problem(value: object, *, issuer: ReceiptIssuer | None, site: str) -> str | None:
    """The egress check of a signed audit head in a result: schema, this site, this site's signature, and a head
    this site's issuer signed. Returns why it must not leave, or ``None``."""
    if issuer is None:
        return "audit head but no site key here to check it"
    reason = head_shape_problem(value, site=site)
    if reason is not None:
        return reason
    assert isinstance(value, Mapping)  # checked by head_shape_problem
    try:
        SignedHead.from_json(value).verify(issuer.public_key)
    except FednodeError:
        return "audit head is not signed by this site's key"
    if not issuer.head_issued(value):
        return "audit head is not one this site signed"
    return None


def receipt_shape_problem(value: object) -> str | None:
    """Why ``value`` is not a well-formed signed approval receipt (schema only), or ``None``."""
    if not isinstance(value, Mapping) or set(value) != {"body", "key_id", "signature"}:
        return "approval receipt is not a signed receipt object"
    if not _matches(_KEY_ID, value["key_id"]) or not _matches(_SIGNATURE, value["signature"]):
        return "approval receipt key id or signature is malformed"
    body = value["body"]
    if not isinstance(body, Mapping):
        return "approval receipt body is not an object"
    return _body_problem(body)


def receipt_problem(value: object, *, issuer: ReceiptIssuer | None, site: str, job_id: str) -> str | None:
    """The egress check of a receipt in a result: schema, this site and job, this site's signature, and the very
    receipt this site issued. Returns why it must not leave, or ``None``."""
    reason = receipt_shape_problem(value)
    if reason is not None:
        return reason
    assert isinstance(value, Mapping)  # checked by receipt_shape_problem
    if issuer is None:
        return "approval receipt but no site key here to check it"
    body = value["body"]
    if body["site"] != site or body["job_id"] != job_id:
        return "approval receipt names another site or job"
    try:
        verify_receipt(Receipt.from_json(value), issuer.public_key)
    except (SignatureError, BadInputError):
        return "approval receipt is not signed by this site's key"
    if issuer.issued(job_id) != value:
        return "approval receipt is not the one this site issued for the job"
    return None


def make_receipt_check(issuer: ReceiptIssuer | None, *, site: str, job_id: str) -> ReceiptCheck:
    """:func:`receipt_problem` bound to this site's issuer and the job a result belongs to."""

    def check(value: object) -> str | None:
        return receipt_problem(value, issuer=issuer, site=site, job_id=job_id)

    return check


def make_head_check(issuer: ReceiptIssuer | None, *, site: str) -> ReceiptCheck:
    """:func:`head_problem` bound to this site's issuer."""

    def check(value: object) -> str | None:
        return head_problem(value, issuer=issuer, site=site)

    return check
