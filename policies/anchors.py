"""Anchors of the site's audit chain held off the site: a signed head (:class:`policies.audit.SignedHead`) that
the coordinator verified against the site's pinned key, kept, and countersigned.

An :class:`Anchor` is the coordinator's countersignature over one site head: JSON
``{"type": "audit-anchor", "head": {<signed head>}, "coordinator_key_id", "countersigned_at", "countersignature"}``,
the signature covering ``b"fednode-audit-anchor/1\\n"`` and the canonical JSON of the other fields. The coordinator
returns it to the site with the next task; the site checks it against the coordinator key pinned in its kit and
keeps it in state.db (:class:`AnchorStore`, table ``audit_anchor``), so the site, too, holds proof of what the
coordinator saw. ``fednode audit verify --anchors`` reads the inner heads of either (``policies.audit.find_heads``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from fednode.errors import BadInputError, SignatureError
from policies.audit import SignedHead, canonical_json
from policies.keys import SiteKey, key_id, verify_signature
from policies.state import AuditAnchorRow, StateStore

ANCHOR_TYPE = "audit-anchor"
_DOMAIN = b"fednode-audit-anchor/1\n"


@dataclass(frozen=True)
class Anchor:
    """A site's signed audit head as countersigned by the coordinator."""

    head: SignedHead
    coordinator_key_id: str
    countersigned_at: str
    countersignature: str

    @staticmethod
    def message_for(head: SignedHead, coordinator_key_id: str, countersigned_at: str) -> bytes:
        body = {"head": head.to_json(), "coordinator_key_id": coordinator_key_id, "countersigned_at": countersigned_at}
        return _DOMAIN + canonical_json(body).encode("utf-8")

    def verify(self, coordinator_key: Ed25519PublicKey) -> None:
        """Raise :class:`SignatureError` unless ``coordinator_key`` (the key pinned in the site's kit) made it."""
        expected = key_id(coordinator_key)
        if self.coordinator_key_id != expected:
            raise SignatureError(f"audit anchor countersigned by key {self.coordinator_key_id}, not {expected}")
        message = self.message_for(self.head, self.coordinator_key_id, self.countersigned_at)
        if not verify_signature(coordinator_key, self.countersignature, message):
            raise SignatureError("audit anchor countersignature does not verify")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": ANCHOR_TYPE,
            "head": self.head.to_json(),
            "coordinator_key_id": self.coordinator_key_id,
            "countersigned_at": self.countersigned_at,
            "countersignature": self.countersignature,
        }

    @classmethod
    def from_json(cls, obj: object) -> Anchor:
        """Parse one anchor; anything malformed is :class:`BadInputError`."""
        if not isinstance(obj, Mapping) or obj.get("type") != ANCHOR_TYPE:
            raise BadInputError("not an audit anchor")
        head = obj.get("head")
        fields = [obj.get(k) for k in ("coordinator_key_id", "countersigned_at", "countersignature")]
        if not isinstance(head, Mapping) or not all(isinstance(f, str) for f in fields):
            raise BadInputError("not an audit anchor: head, key id, time and countersignature are required")
        kid, at, sig = (str(f) for f in fields)
        return cls(SignedHead.from_json(head), kid, at, sig)


def countersign(head: SignedHead, key: SiteKey, *, at: str) -> Anchor:
    """The coordinator's countersignature over ``head`` (already verified against the site's pinned key)."""
    kid = key.key_id
    return Anchor(head, kid, at, key.sign(Anchor.message_for(head, kid, at)))


class AnchorStore:
    """The site's countersigned anchors in state.db: one row per (seq, coordinator key)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def save(self, anchor: Anchor) -> bool:
        """Keep ``anchor`` (verified by the caller); False when this seq already holds one from that key."""
        with self._store.write() as s:
            exists = s.execute(
                select(AuditAnchorRow.seq).where(
                    AuditAnchorRow.seq == anchor.head.seq,
                    AuditAnchorRow.coordinator_key_id == anchor.coordinator_key_id,
                )
            ).first()
            if exists is not None:
                return False
            s.add(
                AuditAnchorRow(
                    seq=anchor.head.seq,
                    hash=anchor.head.hash,
                    coordinator_key_id=anchor.coordinator_key_id,
                    anchor_json=canonical_json(anchor.to_json()),
                )
            )
        return True

    def all(self) -> list[Anchor]:
        """Every kept anchor, oldest head first."""
        with self._store.read() as s:
            rows = s.scalars(select(AuditAnchorRow).order_by(AuditAnchorRow.seq, AuditAnchorRow.id)).all()
        return [Anchor.from_json(json.loads(r.anchor_json)) for r in rows]

    def latest(self) -> Anchor | None:
        """The anchor of the highest head, or ``None``."""
        kept = self.all()
        return kept[-1] if kept else None
