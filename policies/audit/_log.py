"""The live audit log in state.db: append (inside the caller's write transaction or its own), query, verify."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, func, insert, or_, select
from sqlalchemy.orm import Session

from fednode.clock import Clock, utc_now
from fednode.errors import ConfigError
from policies.audit._chain import (
    CHECKPOINTED_EVENTS,
    GENESIS_HASH,
    AuditRecord,
    Checkpoint,
    SignedHead,
    VerifyReport,
    canonical_json,
    checkpoint_message,
    record_hash,
    verify_records,
)
from policies.audit._events import AuditEvent
from policies.keys import SiteKey
from policies.state import AuditCheckpointRow, AuditRow, StateStore, isoformat

log = logging.getLogger("fednode.policies.audit")

_HEAD = select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
_LAST_CHECKPOINT = (
    select(AuditCheckpointRow.seq, AuditCheckpointRow.at, AuditCheckpointRow.next_due)
    .order_by(AuditCheckpointRow.seq.desc())
    .limit(1)
)
_INSERT_RECORD = insert(AuditRow)
_INSERT_CHECKPOINT = insert(AuditCheckpointRow)

MAX_DETAIL_TEXT = 2000
"""Longest string allowed in ``details``: the audit log holds ids, digests, counts and short reasons only."""


class AuditLog:
    """Append-only, hash-chained audit log with signed checkpoints: after every decision record
    (:data:`~policies.audit._chain.CHECKPOINTED_EVENTS`), after the first record, when the last checkpoint is
    ``checkpoint_minutes`` old (checked at append), and at least every ``checkpoint_every`` records.

    ``signer`` is the site key; without one (a read-only viewer, which passes ``public_key`` to verify)
    :meth:`append` is refused.
    Appends from several threads or processes stay linear: each runs under :meth:`StateStore.write`'s lock.
    """

    def __init__(
        self,
        store: StateStore,
        signer: SiteKey | None,
        *,
        checkpoint_every: int = 1000,
        checkpoint_minutes: float = 10.0,
        clock: Clock = utc_now,
        public_key: Ed25519PublicKey | None = None,
        site: str = "",
        decisions: frozenset[str] = CHECKPOINTED_EVENTS,
    ) -> None:
        if checkpoint_every < 1:
            raise ConfigError("policy.checkpoint_every must be at least 1")
        if not checkpoint_minutes > 0:
            raise ConfigError("policy.checkpoint_minutes must be more than 0")
        self._store = store
        self._signer = signer
        self._key_id = signer.key_id if signer is not None else ""
        self._every = checkpoint_every
        self._max_age = timedelta(minutes=checkpoint_minutes)
        self._clock = clock
        self._public_key = public_key
        self.site = site
        self._decisions = decisions  # the events signed at once; only a benchmark's baseline passes another set

    # --- writing -----------------------------------------------------------------------------------------

    def append(
        self,
        event: AuditEvent,
        *,
        actor: str,
        job_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        session: Session | None = None,
    ) -> AuditRecord:
        """Append one record and return it.

        Pass ``session`` (from ``store.write()``) to make the record part of the caller's transaction, so the
        state change and its audit record commit or roll back together. ``details`` holds ids, digests, numbers
        and short reasons; never note text, names or identifiers of patients.
        """
        if self._signer is None:
            raise ConfigError("audit log opened without the site key: cannot append")
        clean = _check_details(dict(details or {}))
        if session is None:
            with self._store.write() as own:
                return self._append(own, event, actor, job_id, clean)
        return self._append(session, event, actor, job_id, clean)

    def _append(
        self, session: Session, event: AuditEvent, actor: str, job_id: str | None, details: dict[str, Any]
    ) -> AuditRecord:
        # Core statements on the session's connection: the ORM unit of work would cost ~4x per record
        conn = session.connection()
        head = conn.execute(_HEAD).first()
        seq, prev_hash = (int(head[0]) + 1, str(head[1])) if head else (1, GENESIS_HASH)
        now = self._clock()
        at = isoformat(now)
        tag = AuditEvent(event).value
        digest = record_hash(seq, at, tag, actor, job_id, details, prev_hash)
        conn.execute(
            _INSERT_RECORD,
            {
                "seq": seq,
                "at": at,
                "event": tag,
                "actor": actor,
                "job_id": job_id,
                "details_json": canonical_json(details),
                "prev_hash": prev_hash,
                "hash": digest,
            },
        )
        self._maybe_checkpoint(conn, seq, digest, at, tag in self._decisions, isoformat(now - self._max_age))
        log.debug("audit.appended seq=%d event=%s", seq, tag)
        return AuditRecord(seq, at, tag, actor, job_id, details, prev_hash, digest)

    def _maybe_checkpoint(
        self, conn: Connection, seq: int, digest: str, at: str, decision: bool, stale_before: str
    ) -> None:
        assert self._signer is not None  # append checked it
        last = conn.execute(_LAST_CHECKPOINT).first()
        if last is not None:
            prev_seq, prev_at, due = int(last[0]), str(last[1]), int(last[2])
            if not decision and seq < due and prev_at > stale_before:
                return
        else:
            prev_seq = 0  # the first record is always signed
        next_due = seq + self._every
        kid = self._key_id
        signature = self._signer.sign(checkpoint_message(seq, digest, at, next_due, kid, prev_seq))
        conn.execute(
            _INSERT_CHECKPOINT,
            {"seq": seq, "hash": digest, "at": at, "next_due": next_due, "key_id": kid, "signature": signature},
        )

    # --- reading -----------------------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """``(last seq, last hash)``; ``(0, genesis)`` for an empty log."""
        with self._store.read() as s:
            row = s.execute(select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)).first()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def signed_head(self) -> SignedHead:
        """The current head (last seq and hash), signed now with the site key: the anchor that travels with
        receipts, results and exports. Read-only; an empty chain gives seq 0 and the genesis hash."""
        seq, digest = self.head()
        return self.sign_head(seq, digest)

    def sign_head(self, seq: int, digest: str) -> SignedHead:
        """Sign a head this log has verified (an export's last record), now, with the site key."""
        if self._signer is None:
            raise ConfigError("audit log opened without the site key: cannot sign its head")
        return SignedHead.sign(self._signer, site=self.site, seq=seq, hash_=digest, at=isoformat(self._clock()))

    def hash_at(self, seq: int) -> str | None:
        """The stored hash of record ``seq`` (the genesis hash for 0); None when there is no such record."""
        if seq == 0:
            return GENESIS_HASH
        with self._store.read() as s:
            return s.execute(select(AuditRow.hash).where(AuditRow.seq == seq)).scalar_one_or_none()

    def count(self) -> int:
        with self._store.read() as s:
            return int(s.execute(select(func.count()).select_from(AuditRow)).scalar_one())

    def records(
        self,
        *,
        job_id: str | None = None,
        events: Sequence[AuditEvent | str] | None = None,
        search: str | None = None,
        after_seq: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        """Records filtered by job, event tags, a substring of actor/event/details, newer than ``after_seq``."""
        q = select(AuditRow).where(AuditRow.seq > after_seq)
        if job_id is not None:
            q = q.where(AuditRow.job_id == job_id)
        if events:
            q = q.where(AuditRow.event.in_([str(e) for e in events]))
        if search:
            like = f"%{search}%"
            q = q.where(
                or_(
                    AuditRow.actor.like(like),
                    AuditRow.event.like(like),
                    AuditRow.details_json.like(like),
                    AuditRow.job_id.like(like),
                )
            )
        q = q.order_by(AuditRow.seq.desc() if newest_first else AuditRow.seq)
        if limit is not None:
            q = q.limit(limit)
        with self._store.read() as s:
            return [_to_record(r) for r in s.scalars(q)]

    def iter_records(self, batch: int = 5000) -> Iterator[AuditRecord]:
        """Every record in ``seq`` order, streamed from one snapshot (for verify and export)."""
        with self._snapshot() as s:
            yield from self._iter(s, batch)

    @contextmanager
    def scan(self) -> Iterator[tuple[Iterator[AuditRecord], list[Checkpoint]]]:
        """Every record (streamed) and every checkpoint, from one snapshot (export writes them consistently)."""
        with self._snapshot() as s:
            cps = [_to_checkpoint(c) for c in s.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))]
            yield self._iter(s, 5000), cps

    def checkpoints(self) -> list[Checkpoint]:
        with self._store.read() as s:
            return [_to_checkpoint(c) for c in s.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))]

    def verify(self, public_key: Ed25519PublicKey | None = None, *, anchors: Sequence[SignedHead] = ()) -> VerifyReport:
        """Verify the whole chain and every checkpoint signature (with ``public_key``, the pinned key, or else the
        signer's), and against ``anchors`` (signed heads kept off the site, see :func:`verify_records`).

        Raises :class:`~fednode.errors.AuditChainError` naming the first bad record.
        """
        key = public_key or (self._signer.public_key if self._signer else self._public_key)
        if key is None:
            raise ConfigError("audit verify needs the site public key")
        with self._snapshot() as s:
            cps = [_to_checkpoint(c) for c in s.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))]
            report = verify_records(self._iter(s, 5000), cps, key, anchors=anchors)
        log.info("audit.verified records=%d checkpoints=%d", report.records, report.checkpoints)
        return report

    def verify_stream(self, records: Iterable[AuditRecord], checkpoints: Sequence[Checkpoint]) -> VerifyReport:
        """Verify records as they stream by (export writes and verifies in one pass)."""
        key = self._signer.public_key if self._signer else self._public_key
        if key is None:
            raise ConfigError("audit verify needs the site public key")
        return verify_records(records, checkpoints, key)

    @contextmanager
    def _snapshot(self) -> Iterator[Session]:
        # one read transaction for the whole scan: a consistent snapshot while writers go on (WAL / MVCC)
        with self._store.read() as s:
            s.execute(select(AuditRow.seq).limit(1))
            yield s

    @staticmethod
    def _iter(session: Session, batch: int) -> Iterator[AuditRecord]:
        q = select(
            AuditRow.seq,
            AuditRow.at,
            AuditRow.event,
            AuditRow.actor,
            AuditRow.job_id,
            AuditRow.details_json,
            AuditRow.prev_hash,
            AuditRow.hash,
        ).order_by(AuditRow.seq)
        for row in session.execute(q.execution_options(yield_per=batch)):
            yield AuditRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7])


def _to_record(r: AuditRow) -> AuditRecord:
    return AuditRecord(r.seq, r.at, r.event, r.actor, r.job_id, json.loads(r.details_json), r.prev_hash, r.hash)


def _to_checkpoint(c: AuditCheckpointRow) -> Checkpoint:
    return Checkpoint(c.seq, c.hash, c.at, c.next_due, c.key_id, c.signature)


def _check_details(details: dict[str, Any]) -> dict[str, Any]:
    """Only JSON scalars, lists and objects, finite numbers and short strings go into the audit log."""

    def walk(value: Any, path: str) -> None:
        if value is None or isinstance(value, bool | int):
            return
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"audit details {path}: not a finite number")
            return
        if isinstance(value, str):
            if len(value) > MAX_DETAIL_TEXT:
                raise ValueError(f"audit details {path}: text longer than {MAX_DETAIL_TEXT} characters")
            return
        if isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
            return
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ValueError(f"audit details {path}: keys must be text")
                walk(v, f"{path}.{k}")
            return
        raise ValueError(f"audit details {path}: {type(value).__name__} is not allowed")

    walk(details, "details")
    return json.loads(canonical_json(details))  # type: ignore[no-any-return]  # a dict by construction
