"""Signed approval receipts: what a site approved, signed with its Ed25519 key, verifiable by anyone holding the
site's public key (another site, the coordinator, an auditor).

A receipt is one JSON object: the signed ``body`` (site, job id, study, job digest, policy digest, verdict,
approvers, time, audit head) plus ``key_id`` and ``signature`` (base64 Ed25519 over the domain-separated
canonical JSON of the body). Changing any byte of the body, the key id or the signature fails verification.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fednode.clock import Clock, utc_now
from fednode.errors import BadInputError, JobStateError, SignatureError
from policies.audit import canonical_json
from policies.contracts import JobRecord, JobState
from policies.keys import SiteKey, key_id, verify_signature
from policies.state import isoformat

RECEIPT_VERSION = 1
_DOMAIN = b"fednode-approval-receipt\n"


@dataclass(frozen=True)
class Receipt:
    """A signed approval receipt."""

    body: Mapping[str, Any]
    key_id: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"body": dict(self.body), "key_id": self.key_id, "signature": self.signature}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Receipt:
        try:
            body, kid, sig = obj["body"], obj["key_id"], obj["signature"]
        except (KeyError, TypeError) as exc:
            raise BadInputError("not an approval receipt: body, key_id and signature are required") from exc
        if not isinstance(body, dict) or not isinstance(kid, str) or not isinstance(sig, str):
            raise BadInputError("not an approval receipt: wrong field types")
        return cls(body=body, key_id=kid, signature=sig)

    @classmethod
    def loads(cls, text: str) -> Receipt:
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise BadInputError(f"approval receipt is not JSON (line {exc.lineno})") from exc


def _message(body: Mapping[str, Any], kid: str) -> bytes:
    return _DOMAIN + canonical_json({"body": body, "key_id": kid}).encode("utf-8")


def issue_receipt(
    job: JobRecord,
    *,
    site: str,
    key: SiteKey,
    audit_head: tuple[int, str] | None = None,
    clock: Clock = utc_now,
) -> Receipt:
    """Sign a receipt for an approved job (or one that ran after approval).

    ``audit_head`` (seq, hash) anchors the site's audit chain at issue time, so a later truncation of the log
    is evident to whoever holds the receipt.
    """
    if job.state not in (JobState.APPROVED, JobState.RUNNING, JobState.FINISHED, JobState.FAILED):
        raise JobStateError(f"job {job.job_id} is {job.state.value}: only approved jobs get a receipt")
    approvals = [a for a in job.approvals if a.decision == "approve" and a.digest == job.manifest.digest]
    body: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "site": site,
        "job_id": job.job_id,
        "study": job.manifest.study,
        "app": job.manifest.app_name,
        "job_digest": job.manifest.digest,
        "policy_digest": job.verdict.policy_digest,
        "verdict": {
            "allowed": job.verdict.allowed,
            "rules": [{"rule": r.rule, "outcome": r.outcome.value} for r in job.verdict.results],
        },
        "approvers": [{"name": a.approver, "at": isoformat(a.at), "second_factor": a.second_factor} for a in approvals],
        "required_approvals": job.required_approvals,
        "issued_at": isoformat(clock()),
    }
    if audit_head is not None:
        body["audit_head"] = {"seq": audit_head[0], "hash": audit_head[1]}
    kid = key.key_id
    body = json.loads(canonical_json(body))  # exactly the JSON a verifier will see
    return Receipt(body=body, key_id=kid, signature=key.sign(_message(body, kid)))


def verify_receipt(receipt: Receipt, public_key: Ed25519PublicKey) -> Mapping[str, Any]:
    """Return the receipt's body if ``public_key`` signed it; raise :class:`SignatureError` otherwise."""
    expected = key_id(public_key)
    if receipt.key_id != expected:
        raise SignatureError(f"receipt signed by key {receipt.key_id}, not by this site's key {expected}")
    if not verify_signature(public_key, receipt.signature, _message(receipt.body, receipt.key_id)):
        raise SignatureError("receipt signature does not verify: the receipt was altered or forged")
    return receipt.body
