"""Engines for the CDM: a SQLite file by default, any SQLAlchemy URL (PostgreSQL) otherwise.

Also the checks a command makes before it touches a database: is the URL one we can use (:func:`parse_db_url`),
does a CDM exist there without creating one (:func:`cdm_tables`), and can the server be reached
(:func:`check_reachable`). URLs in messages always have their password masked (:func:`masked_url`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from fednode.errors import BadInputError, ServiceError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
_EXPECTED = "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets a busy timeout so the dashboard and a load can share the file."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def masked_url(url: str) -> str:
    """``url`` with its password shown as ``***`` (safe for messages and logs); a placeholder when unparsable."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def parse_db_url(url: str, *, option: str = "--db") -> URL:
    """``url`` parsed, or a :class:`BadInputError` naming ``option`` (never echoing the URL, which may hold a
    password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInputError(f"not a database URL ({_EXPECTED})", file=option) from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise BadInputError(f"unsupported database {parsed.get_backend_name()!r} ({_EXPECTED})", file=option) from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise BadInputError(f"no database driver for {parsed.drivername!r} ({_EXPECTED})", file=option) from None
    if parsed.get_backend_name() == "sqlite" and not parsed.database:
        raise BadInputError(f"a SQLite URL needs a file path ({_EXPECTED})", file=option)
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite ``url`` (None for other backends and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def check_reachable(engine: Engine, *, option: str = "--db") -> None:
    """Open and close one connection; a :class:`ServiceError` (password masked) when the server cannot be
    reached."""
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        raise ServiceError(database_error_message(engine, exc, option=option)) from None


def database_error_message(engine: Engine, exc: BaseException, *, option: str = "--db") -> str:
    """One line about a database failure: the URL (password masked) and the driver's first line of reason."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    password = engine.url.password
    if password:
        first = first.replace(str(password), "***")
    shown = engine.url.set(drivername=engine.url.get_backend_name()).render_as_string(hide_password=True)
    return f"{option}: cannot use the database at {shown}: {first}"


def cdm_tables(url: str) -> set[str] | None:
    """The tables of the database at ``url``, or None when a SQLite file does not exist (never created here)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return None
    engine = create_engine(make_url(url)) if path is not None else make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
