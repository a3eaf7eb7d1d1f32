"""``state.db``: the one database the gate, the CLI and the dashboard share, from different processes.

SQLite in WAL mode by default (``sqlite:///$FEDNODE_HOME/state.db``), PostgreSQL by URL. Every write runs in
:meth:`StateStore.write`, which serialises writers: ``BEGIN IMMEDIATE`` on SQLite (the write lock is taken before
the first read, so read-check-write sequences such as "append to the audit chain" or "reserve budget" cannot
interleave), a transaction-scoped advisory lock on PostgreSQL. Readers never block writers (WAL / MVCC).

The schema is created with ``create_all`` (no migrations yet); the tables of every service live here so that one
call creates them all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from fednode.errors import ServiceError

log = logging.getLogger("fednode.policies.state")

_PG_WRITE_LOCK = 0x6665646E6F6465  # "fednode": the advisory lock key that serialises writers on PostgreSQL
BUSY_TIMEOUT_MS = 30_000


def isoformat(at: datetime) -> str:
    """Canonical text of a timestamp: UTC, microseconds, ``+00:00`` (what the audit hash covers)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: fednode stores aware UTC times only")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime stored as fixed-width ISO-8601 text: sorts correctly and reads back identically on
    SQLite and PostgreSQL."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else isoformat(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every state.db table."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {datetime: UtcDateTime()}  # noqa: RUF012  # SQLAlchemy reads this class attribute


# --- job registry -------------------------------------------------------------------------------------------


class JobRow(Base):
    """One job as this site knows it. ``manifest_json``/``verdict_json`` are the contract types as JSON."""

    __tablename__ = "job"

    job_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    study: Mapped[str] = mapped_column(String(256), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    meta_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_reason: Mapped[str] = mapped_column(Text, default="")
    required_approvals: Mapped[int] = mapped_column(Integer)
    verdict_allowed: Mapped[bool] = mapped_column(Boolean)
    manifest_json: Mapped[str] = mapped_column(Text)
    verdict_json: Mapped[str] = mapped_column(Text)
    spent_epsilon: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    approved_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ApprovalRow(Base):
    """One person's decision, bound to the digest they reviewed."""

    __tablename__ = "approval"
    __table_args__ = (UniqueConstraint("job_id", "approver"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.job_id", ondelete="RESTRICT"), index=True)
    approver: Mapped[str] = mapped_column(String(256))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime]
    key_fingerprint: Mapped[str] = mapped_column(String(128), default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    statement: Mapped[str] = mapped_column(Text, default="")


class TotpUseRow(Base):
    """A TOTP time step already used by an approver: a code is accepted once (replay protection)."""

    __tablename__ = "totp_use"

    approver: Mapped[str] = mapped_column(String(256), primary_key=True)
    timestep: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]


class RoundRow(Base):
    """One training round's local report (numbers only)."""

    __tablename__ = "job_round"

    job_id: Mapped[str] = mapped_column(ForeignKey("job.job_id", ondelete="RESTRICT"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    metrics_json: Mapped[str] = mapped_column(Text)
    bytes_sent: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class EgressRow(Base):
    """One egress-guard decision on an outgoing result."""

    __tablename__ = "egress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.job_id", ondelete="RESTRICT"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


# --- privacy ledger -----------------------------------------------------------------------------------------


class ReservationRow(Base):
    """A job's claim on a dataset's privacy budget: reserved at approval, committed or released at the end."""

    __tablename__ = "budget_reservation"

    job_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16))  # reserved | committed | released
    planned_json: Mapped[str] = mapped_column(Text)  # [[noise_multiplier, sample_rate, steps], ...]
    flat_epsilon: Mapped[float] = mapped_column(Float, default=0.0)  # used when the job gives no step plan
    reserved_epsilon: Mapped[float] = mapped_column(Float)
    spent_epsilon: Mapped[float | None] = mapped_column(Float, nullable=True)
    delta: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccountantStepRow(Base):
    """DP-SGD steps actually taken on a dataset: the persisted Opacus accountant history."""

    __tablename__ = "accountant_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(128), index=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    noise_multiplier: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[float] = mapped_column(Float)
    steps: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class LedgerVersionRow(Base):
    """One counter per dataset, bumped by every ledger write: lets a slow accountant run outside the lock and
    check, under it, that nothing changed meanwhile (optimistic concurrency)."""

    __tablename__ = "ledger_version"

    dataset: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


# --- audit --------------------------------------------------------------------------------------------------


class AuditRow(Base):
    """One audit record; ``hash`` covers every other column (see :mod:`policies.audit`)."""

    __tablename__ = "audit_record"
    __table_args__ = (Index(None, "job_id"), Index(None, "event"))

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # canonical ISO text, exactly as hashed
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(256))
    job_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    details_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signed statement "the chain up to ``seq`` ends in ``hash``", made with the site's Ed25519 key."""

    __tablename__ = "audit_checkpoint"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(32))
    next_due: Mapped[int] = mapped_column(Integer)  # the seq at which the next checkpoint must exist
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))  # base64 of the 64-byte signature


class AuditAnchorRow(Base):
    """A head of this site's audit chain as the coordinator countersigned it (:mod:`policies.anchors`)."""

    __tablename__ = "audit_anchor"
    __table_args__ = (UniqueConstraint("seq", "coordinator_key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    coordinator_key_id: Mapped[str] = mapped_column(String(64))
    anchor_json: Mapped[str] = mapped_column(Text)  # the countersigned anchor, canonical JSON


# --- the store ----------------------------------------------------------------------------------------------


def _sqlite_on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (pysqlite's own BEGIN is deferred and late).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


class StateStore:
    """The engine for state.db plus the two ways in: :meth:`read` and :meth:`write` sessions.

    Create one per process (it owns a connection pool) and share it between the services.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        if create:
            self.create_all()

    @classmethod
    def for_path(cls, path: Path, *, create: bool = True) -> StateStore:
        """Open (and create) the SQLite file at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}", create=create)

    def create_all(self) -> None:
        """Create every table that does not exist yet (idempotent, safe from several processes)."""
        try:
            with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
                Base.metadata.create_all(conn)
        except SQLAlchemyError as exc:
            raise ServiceError(f"state.db: cannot create the schema ({type(exc).__name__})") from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session on one consistent snapshot."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session  # close() ends the transaction and detaches (not expires) what was loaded

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction holds the database's write lock from its first statement to commit.

        Writers are serialised across threads and processes; commits on normal exit, rolls back on error.
        """
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_WRITE_LOCK})
            with Session(bind=conn, expire_on_commit=False) as s:
                yield s
                s.flush()

    def dispose(self) -> None:
        """Close every pooled connection (tests, process shutdown)."""
        self.engine.dispose()
