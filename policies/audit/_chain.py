"""Hashing and verification of the audit chain: pure functions over records, shared by the live log and by the
offline verifier of an export.

A record's hash is ``sha256(canonical JSON of {seq, at, event, actor, job_id, details, prev_hash})``; the first
record's ``prev_hash`` is 64 zeros. A checkpoint signs ``{seq, hash, at, next_due, key_id, prev_seq}`` with the
site's Ed25519 key: ``prev_seq`` is the seq of the checkpoint before it (0 for the first), so deleting one in the
middle breaks the next signature; ``next_due`` is the seq by which the next checkpoint must exist; and every
decision record (:data:`CHECKPOINTED_EVENTS`) has its own checkpoint, so deleting the checkpoints after the last
decision is noticed too. A :class:`SignedHead` is the same statement made for others to keep (anchors): checked
against them, a chain cut back to an earlier checkpoint, or rewritten and re-signed, no longer matches.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fednode.errors import AuditChainError, BadInputError
from policies.keys import SiteKey, verify_signature
from policies.keys import key_id as _key_id

GENESIS_HASH = "0" * 64
_CHECKPOINT_DOMAIN = b"fednode-audit-checkpoint/2\n"
_HEAD_DOMAIN = b"fednode-audit-head/1\n"
HEAD_TYPE = "audit-head"
"""The ``type`` of a signed head's JSON object; :func:`find_heads` collects every object carrying it."""

CHECKPOINTED_EVENTS = frozenset(
    {
        "job:pending",
        "job:conflict",
        "job:approval_recorded",
        "job:approval_refused",
        "job:approved",
        "job:rejected",
        "job:refused",
        "digest:verified",
        "digest:mismatch",
        "egress:blocked",
        "budget:refused",
        "model:rejected",
    }
)
"""Decision records: each is signed (a checkpoint at its seq) the moment it is written."""


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the bytes that get hashed and signed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class AuditRecord:
    """One record of the chain. ``at`` is canonical ISO-8601 UTC text, exactly as hashed."""

    seq: int
    at: str
    event: str
    actor: str
    job_id: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "event": self.event,
            "actor": self.actor,
            "job_id": self.job_id,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> AuditRecord:
        return cls(
            seq=int(obj["seq"]),
            at=str(obj["at"]),
            event=str(obj["event"]),
            actor=str(obj["actor"]),
            job_id=None if obj.get("job_id") is None else str(obj["job_id"]),
            details=dict(obj.get("details") or {}),
            prev_hash=str(obj["prev_hash"]),
            hash=str(obj["hash"]),
        )


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain up to ``seq`` ends in ``hash``."""

    seq: int
    hash: str
    at: str
    next_due: int
    key_id: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "next_due": self.next_due,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Checkpoint:
        return cls(
            seq=int(obj["seq"]),
            hash=str(obj["hash"]),
            at=str(obj["at"]),
            next_due=int(obj["next_due"]),
            key_id=str(obj["key_id"]),
            signature=str(obj["signature"]),
        )


@dataclass(frozen=True)
class SignedHead:
    """The site's signed statement "my audit chain up to ``seq`` ends in ``hash``" (``at``: when it was signed).

    It leaves the site (with receipts, results and exports) so that others hold an anchor of the chain that the
    site cannot take back: a later chain whose hash at ``seq`` differs, or that ends before ``seq``, was
    rewritten or truncated. ``seq`` 0 with the genesis hash is the head of an empty chain.
    """

    site: str
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str

    @staticmethod
    def message_for(site: str, seq: int, hash_: str, at: str, key_id: str) -> bytes:
        """The bytes the signature covers: a domain line, then the canonical JSON of the five fields."""
        body = {"site": site, "seq": seq, "hash": hash_, "at": at, "key_id": key_id}
        return _HEAD_DOMAIN + canonical_json(body).encode("utf-8")

    def message(self) -> bytes:
        return self.message_for(self.site, self.seq, self.hash, self.at, self.key_id)

    @classmethod
    def sign(cls, key: SiteKey, *, site: str, seq: int, hash_: str, at: str) -> SignedHead:
        kid = key.key_id
        return cls(site, seq, hash_, at, kid, key.sign(cls.message_for(site, seq, hash_, at, kid)))

    def verify(self, public_key: Ed25519PublicKey) -> None:
        """Raise :class:`AuditChainError` unless ``public_key`` (the pinned site key) made this head."""
        expected = _key_id(public_key)
        if self.key_id != expected:
            raise AuditChainError(
                f"signed head {self.seq} of {self.site} is signed by key {self.key_id}, not the pinned key {expected}"
            )
        if not verify_signature(public_key, self.signature, self.message()):
            raise AuditChainError(f"signed head {self.seq} of {self.site}: signature does not verify")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": HEAD_TYPE,
            "site": self.site,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    def dumps(self) -> str:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SignedHead:
        """Parse one head; a missing field or a wrong type is :class:`BadInputError`."""
        try:
            if obj.get("type") != HEAD_TYPE:
                raise ValueError(f"type is {obj.get('type')!r}, not {HEAD_TYPE!r}")
            seq = obj["seq"]
            if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
                raise ValueError("seq is not a non-negative integer")
            fields = [obj[k] for k in ("site", "hash", "at", "key_id", "signature")]
            if not all(isinstance(f, str) for f in fields):
                raise ValueError("site, hash, at, key_id and signature must be text")
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise BadInputError(f"not a signed audit head ({exc})") from None
        site, hash_, at, kid, sig = fields
        return cls(site, seq, hash_, at, kid, sig)


def find_heads(obj: Any) -> list[SignedHead]:
    """Every signed head inside a parsed JSON document, at any depth (a list of heads, the coordinator's kept
    heads, a countersigned wrapper, a signed model's provenance, a receipt), in document order."""
    found: list[SignedHead] = []
    stack: list[Any] = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if item.get("type") == HEAD_TYPE:
                found.append(SignedHead.from_json(item))
                continue
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found


def record_hash(
    seq: int, at: str, event: str, actor: str, job_id: str | None, details: Mapping[str, Any], prev_hash: str
) -> str:
    """The hash a record with these fields must carry."""
    body = {
        "seq": seq,
        "at": at,
        "event": event,
        "actor": actor,
        "job_id": job_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def checkpoint_message(seq: int, hash_: str, at: str, next_due: int, key_id: str, prev_seq: int) -> bytes:
    """The bytes a checkpoint signature covers (``prev_seq``: the checkpoint before it, 0 for the first)."""
    body = {"seq": seq, "hash": hash_, "at": at, "next_due": next_due, "key_id": key_id, "prev_seq": prev_seq}
    return _CHECKPOINT_DOMAIN + canonical_json(body).encode("utf-8")


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification covered."""

    records: int
    checkpoints: int
    last_seq: int
    last_hash: str
    last_checkpoint_seq: int | None
    anchors: int = 0
    """Signed heads (kept off the site) the chain was checked against."""
    last_anchor_seq: int | None = None
    head_signed: bool = False
    """An export's signed head line covered its last record."""

    @property
    def signed_through(self) -> int:
        """The last record a verified signature covers (0: none)."""
        return self.last_seq if self.head_signed else (self.last_checkpoint_seq or 0)

    @property
    def unsigned(self) -> bool:
        """Records exist and no signature covers any of them: the hashes prove nothing against a rewrite."""
        return self.records > 0 and self.signed_through == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "last_checkpoint_seq": self.last_checkpoint_seq,
            "signed_through": self.signed_through,
            "unsigned_records": self.last_seq - self.signed_through,
            "signed": not self.unsigned,
            "anchors": self.anchors,
            "last_anchor_seq": self.last_anchor_seq,
        }


def _fail(seq: int, why: str) -> AuditChainError:
    return AuditChainError(f"audit chain broken at record {seq}: {why}", first_bad_seq=seq)


def verify_records(
    records: Iterable[AuditRecord],
    checkpoints: Iterable[Checkpoint],
    public_key: Ed25519PublicKey | None,
    *,
    anchors: Sequence[SignedHead] = (),
) -> VerifyReport:
    """Check the whole chain; raise :class:`AuditChainError` naming the first bad record.

    ``records`` must come in ascending ``seq`` order (as stored or exported). Detects a changed record (its hash),
    a deleted one (a gap in ``seq``, or a successor linked to a hash that is no longer there), an inserted one
    (its successor links past it), reordering (links), and, with the signed checkpoints, a chain rewritten with
    fresh hashes, truncated past a checkpoint, or missing a checkpoint (a decision record without one, a gap in
    the checkpoints' own links, or one overdue). ``anchors`` are signed heads kept off the site (the
    coordinator's, a model's provenance, receipts): each must be signed by ``public_key`` (the pinned key), lie
    within the chain and match its hash at that seq, which catches cutting the chain back to an earlier checkpoint
    and rewriting it with the key on the site's disk. ``public_key=None`` skips signature checks (tests only).
    """
    ordered = sorted(checkpoints, key=lambda c: c.seq)
    by_seq = {c.seq: c for c in ordered}
    prev_of = {c.seq: (ordered[i - 1].seq if i else 0) for i, c in enumerate(ordered)}
    expected_kid = None if public_key is None else _key_id(public_key)
    anchored = _checked_anchors(anchors, public_key)
    prev_hash = GENESIS_HASH
    prev_prev_hash: str | None = None
    expected_seq = 1
    count = 0
    last_good_checkpoint = 0
    for rec in records:
        if rec.seq != expected_seq:
            if rec.seq > expected_seq:
                raise _fail(expected_seq, f"record missing (next stored record is {rec.seq})")
            raise _fail(rec.seq, f"out of order or duplicated (expected {expected_seq})")
        if rec.prev_hash != prev_hash:
            if rec.prev_hash == prev_prev_hash:
                raise _fail(rec.seq - 1, "inserted: its successor links past it")
            raise _fail(rec.seq, "does not link to its predecessor (a record was deleted, inserted or moved)")
        if record_hash(rec.seq, rec.at, rec.event, rec.actor, rec.job_id, rec.details, rec.prev_hash) != rec.hash:
            raise _fail(rec.seq, "content changed (hash does not match)")
        cp = by_seq.get(rec.seq)
        if cp is not None:
            _check_checkpoint(cp, rec, public_key, expected_kid, last_good_checkpoint, prev_of[cp.seq])
            last_good_checkpoint = rec.seq
        elif rec.event in CHECKPOINTED_EVENTS:
            raise _fail(rec.seq, f"the signed checkpoint of this {rec.event} record is missing (deleted)")
        if anchored and rec.seq in anchored and anchored[rec.seq].hash != rec.hash:
            raise _rewritten_against(anchored[rec.seq], last_good_checkpoint, rec.seq)
        prev_prev_hash, prev_hash = prev_hash, rec.hash
        expected_seq += 1
        count += 1
    last_seq = expected_seq - 1
    if ordered and ordered[-1].seq > last_seq:
        raise _fail(last_seq + 1, f"chain truncated: a signed checkpoint covers record {ordered[-1].seq}")
    for a, b in itertools.pairwise(ordered):
        if b.seq > a.next_due:
            raise _fail(a.next_due, f"its signed checkpoint is missing (the next one is at {b.seq})")
    if ordered and ordered[-1].next_due <= last_seq:
        raise _fail(ordered[-1].next_due, "its signed checkpoint is missing")
    last_anchor = max(anchored) if anchored else None
    if last_anchor is not None and last_anchor > last_seq:
        raise _fail(
            last_seq + 1,
            f"chain truncated: a signed head kept off the site covers record {last_anchor}, the chain ends at "
            f"{last_seq}",
        )
    if 0 in anchored and anchored[0].hash != GENESIS_HASH:
        raise _fail(1, "a signed head kept off the site for record 0 does not carry the genesis hash")
    return VerifyReport(
        records=count,
        checkpoints=len(ordered),
        last_seq=last_seq,
        last_hash=prev_hash,
        last_checkpoint_seq=ordered[-1].seq if ordered else None,
        anchors=len(anchors),
        last_anchor_seq=last_anchor,
    )


def _checked_anchors(anchors: Sequence[SignedHead], public_key: Ed25519PublicKey | None) -> dict[int, SignedHead]:
    """Anchors by seq, each verified with the pinned key; two different hashes for one seq is a fork."""
    by_seq: dict[int, SignedHead] = {}
    for head in anchors:
        if public_key is not None:
            head.verify(public_key)
        seen = by_seq.get(head.seq)
        if seen is not None and seen.hash != head.hash:
            raise _fail(head.seq, "two signed heads kept off the site disagree on this record's hash (a fork)")
        by_seq[head.seq] = head
    return by_seq


def _rewritten_against(head: SignedHead, after: int, seq: int) -> AuditChainError:
    return _fail(
        seq,
        f"rewritten: the signed head kept off the site (signed {head.at}) says record {seq} has another hash"
        + (f"; the chain's own checkpoints were re-signed after record {after}" if after >= seq else ""),
    )


def _check_checkpoint(
    cp: Checkpoint,
    rec: AuditRecord,
    public_key: Ed25519PublicKey | None,
    expected_kid: str | None,
    after: int,
    prev_seq: int,
) -> None:
    if cp.hash != rec.hash:
        # a consistent chain that disagrees with a signature: some record after the last good checkpoint was
        # rewritten together with every hash after it; the earliest it can be is named
        raise _fail(
            after + 1,
            f"records {after + 1}..{rec.seq} were rewritten (record {rec.seq} differs from its signed checkpoint)",
        )
    if public_key is None:
        return
    if cp.key_id != expected_kid:
        raise _fail(rec.seq, f"checkpoint signed by another key ({cp.key_id}), not the expected key {expected_kid}")
    message = checkpoint_message(cp.seq, cp.hash, cp.at, cp.next_due, cp.key_id, prev_seq)
    if not verify_signature(public_key, cp.signature, message):
        raise _fail(
            rec.seq,
            "checkpoint signature does not verify (forged, or the signed checkpoint before it, after "
            f"{prev_seq}, was deleted)",
        )
