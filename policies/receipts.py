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
from policies.approver_keys import ApprovalStatement, ApproverKey, Sshsig, SshsigError
from policies.audit import SignedHead, canonical_json
from policies.contracts import Approval, JobRecord, JobState
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
    audit_head: SignedHead | tuple[int, str] | None = None,
    clock: Clock = utc_now,
) -> Receipt:
    """Sign a receipt for an approved job (or one that ran after approval).

    ``audit_head`` anchors the site's audit chain at issue time, so a later truncation of the log is evident to
    whoever holds the receipt: the site's signed head (its JSON goes in as is, ``"type": "audit-head"``), or a
    plain ``(seq, hash)``.
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
        "approvers": [_approver_json(a) for a in approvals],
        "required_approvals": job.required_approvals,
        "issued_at": isoformat(clock()),
    }
    carried = _carried_from(job.job_id, approvals)
    if carried is not None:  # a continued study: its approvals were given for the study's first job
        body["resumed_from"] = carried
    if isinstance(audit_head, SignedHead):
        body["audit_head"] = audit_head.to_json()
    elif audit_head is not None:
        body["audit_head"] = {"seq": audit_head[0], "hash": audit_head[1]}
    kid = key.key_id
    body = json.loads(canonical_json(body))  # exactly the JSON a verifier will see
    return Receipt(body=body, key_id=kid, signature=key.sign(_message(body, kid)))


def verify_receipt(
    receipt: Receipt, public_key: Ed25519PublicKey, *, enrolled: Mapping[str, ApproverKey] | None = None
) -> Mapping[str, Any]:
    """Return the receipt's body if ``public_key`` signed it and every approver's own signature verifies (and,
    given the site policy's ``enrolled`` keys by approver name, was made by that approver's enrolled key); raise
    :class:`SignatureError` otherwise."""
    expected = key_id(public_key)
    if receipt.key_id != expected:
        raise SignatureError(f"receipt signed by key {receipt.key_id}, not by this site's key {expected}")
    if not verify_signature(public_key, receipt.signature, _message(receipt.body, receipt.key_id)):
        raise SignatureError("receipt signature does not verify: the receipt was altered or forged")
    problem = approver_signatures_problem(receipt.body, enrolled)
    if problem is not None:
        raise SignatureError(f"receipt approver signatures: {problem}")
    return receipt.body


def _carried_from(job_id: str, approvals: list[Approval]) -> str | None:
    """The job whose signed approvals were carried over to ``job_id`` (a study continued after a coordinator
    restart, ``policies.registry.resumption``): the one other job their statements name, or ``None``."""
    named = set()
    for a in approvals:
        for line in a.statement.split("\n") if a.signature else ():
            if line.startswith("job: ") and line[5:] != job_id:
                named.add(line[5:])
    return next(iter(named)) if len(named) == 1 else None


def _approver_json(a: Approval) -> dict[str, Any]:
    """One approver in a receipt; a signed approval carries its key's fingerprint, the statement and the
    signature (the key itself is inside the SSHSIG), so anyone can check who approved."""
    entry: dict[str, Any] = {"name": a.approver, "at": isoformat(a.at), "second_factor": a.second_factor}
    if a.signature:
        entry.update(key=a.key_fingerprint, statement=a.statement, signature=a.signature)
    return entry


def approver_signatures_problem(body: Mapping[str, Any], enrolled: Mapping[str, ApproverKey] | None) -> str | None:
    """Why the approvers' own signatures in a receipt body do not hold, or None: each signature verifies over its
    statement, the statement names this job, digest and site and an approval, the fingerprint is the signer's,
    no key signs twice; with ``enrolled``, every approver signed with the key enrolled for their name (and an
    approver without a signature is a problem)."""
    approvers = body.get("approvers")
    if not isinstance(approvers, list):
        return "no approvers"
    seen: set[str] = set()
    for a in approvers:
        if not isinstance(a, Mapping):
            return "an approver entry is malformed"
        name = str(a.get("name", ""))
        if "signature" not in a:
            if enrolled is not None:
                return f"{name!r} approved without a signature by their own key"
            continue
        try:
            sig = Sshsig.parse(str(a["signature"]))
            statement = str(a.get("statement", "")).encode("utf-8")
            sig.verify(statement, sig.key)
            at = ApprovalStatement.signed_time(statement)
        except SshsigError as exc:
            return f"{name!r}: {exc}"
        jobs = [str(body.get("job_id"))]
        if isinstance(body.get("resumed_from"), str):  # carried over from the study's first job
            jobs.append(str(body["resumed_from"]))
        wanted = [
            ApprovalStatement(job, str(body.get("job_digest")), "", str(body.get("site")), "approve", at).to_bytes()
            for job in jobs
        ]
        if _without_meta(statement) not in {_without_meta(w) for w in wanted}:
            return f"{name!r} signed a statement for another job, digest, site or decision"
        if a.get("key") != sig.key.fingerprint or sig.key.fingerprint in seen:
            return f"{name!r}: the key fingerprint does not match, or one key signed twice"
        seen.add(sig.key.fingerprint)
        if enrolled is not None:
            key = next(
                (k for n, k in enrolled.items() if " ".join(n.lower().split()) == " ".join(name.lower().split())), None
            )
            if key is None or key.blob != sig.key.blob:
                return f"{name!r} did not sign with the key the site policy enrols for them"
    return None


def _without_meta(statement: bytes) -> bytes:
    return b"\n".join(line for line in statement.split(b"\n") if not line.startswith(b"meta-digest: "))
