"""Async engine and session factory. Only the request dependency and the job runner commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from foredeck.config import Config

# A bulk import commits in one transaction, which grows the WAL file to its size; SQLite
# keeps that file at its largest unless told to cut it back once a checkpoint has emptied it.
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are opened by _sqlite_write_begins_immediate, not by the sqlite3 module.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA journal_size_limit={int(WAL_SIZE_LIMIT)}")
    cursor.close()


def make_engine(config: Config) -> AsyncEngine:
    url = config.resolved_database_url
    kwargs: dict[str, Any] = {"pool_pre_ping": not url.startswith("sqlite")}
    if url.startswith("sqlite"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _install_sqlite_hooks(engine.sync_engine)
    return engine


def make_sync_sqlite_engine(config: Config) -> Engine:
    """A blocking engine on the same SQLite file, for short writes that run whole in one thread.

    Through aiosqlite every statement is a round trip to its thread and back to the event
    loop; on a busy host each one waited milliseconds for the loop. The job engine's claim and
    finish transactions run here instead: one hop for the whole transaction.
    """
    url = make_url(config.resolved_database_url).set(drivername="sqlite+pysqlite")
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    _install_sqlite_hooks(engine)
    return engine


def _install_sqlite_hooks(sync_engine: Engine) -> None:
    event.listen(sync_engine, "connect", _sqlite_pragmas)
    event.listen(sync_engine, "before_cursor_execute", _sqlite_write_begins_immediate)
    for name in ("commit", "rollback"):
        event.listen(sync_engine, name, _sqlite_tx_ended)
    # The pool rolls back returned connections itself, without Connection events.
    event.listen(sync_engine.pool, "reset", _sqlite_pool_reset)


_WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT")
_IN_WRITE_TX = "foredeck_write_tx"


def _sqlite_write_begins_immediate(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """Reads run without a transaction; the first write opens one with BEGIN IMMEDIATE.

    A deferred transaction that reads and then writes cannot upgrade its WAL snapshot once
    another connection has committed, and SQLite then fails at once with "database is locked"
    instead of waiting. Taking the write lock at the first write makes writers queue on
    busy_timeout, while reads (and sessions left open between polls) hold no lock at all —
    roughly PostgreSQL's READ COMMITTED, so conditional UPDATEs decide races as they do there.
    """
    if conn.info.get(_IN_WRITE_TX):
        return
    head = statement.lstrip()[:9].upper()
    if head.startswith(_WRITE_PREFIXES):
        cursor.execute("BEGIN IMMEDIATE")
        conn.info[_IN_WRITE_TX] = True


def _sqlite_tx_ended(conn: Any, *args: Any) -> None:
    # An invalidated connection (a query cut off by a cancel) has no info to reset (the pool
    # clears it), and touching conn.info would raise PendingRollbackError out of the rollback.
    if not conn.invalidated:
        conn.info.pop(_IN_WRITE_TX, None)


def _sqlite_pool_reset(dbapi_connection: Any, record: Any, *args: Any) -> None:
    record.info.pop(_IN_WRITE_TX, None)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A unit of work outside a request (job runner, CLI, lifespan): commit or roll back."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
