"""Async engine and session factory. Only the request dependency and the job runner commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import weakref
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
from sqlalchemy.util import await_only

from foredeck.config import Config
from foredeck.dbtext import dumps_storable_json, refuse_unstorable_text

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


class WriteGuard:
    """This process's writers to one SQLite file, one at a time, in the order they came.

    SQLite has one write lock, and its busy handler waits by sleeping (1, 2, 5 ... 100 ms)
    and trying again, so a writer can lose the race to back-to-back transactions for
    seconds. Every write transaction of the process queues here instead: the async engine's
    sessions at their first write (see `_sqlite_write_begins_immediate`), the job engine's
    own writes around their transaction (`kit.writes`). Re-entrant for the task that holds
    it; a wait longer than SQLite's busy timeout fails as SQLite itself would.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            self._depth += 1
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            try:
                # A timeout scope, not wait_for: no task is created per write.
                async with asyncio.timeout(min(1.0, self.timeout)):
                    await self._lock.acquire()
                break
            except TimeoutError:
                owner = self._owner
                if owner is not None and owner.done():
                    # Its task ended inside a transaction that nothing will end now.
                    self._force_release()
                elif loop.time() >= deadline:
                    # Name the holder: a writer that keeps the lock this long is a bug to find.
                    holder = owner.get_coro() if owner is not None else None
                    raise sqlite3.OperationalError(
                        f"database is locked: another writer of this process held it for "
                        f"{self.timeout:.0f} s (held by {holder!r})"
                    ) from None
        self._owner, self._depth = task, 1

    def release(self) -> None:
        if self._depth <= 0:
            return
        self._depth -= 1
        if self._depth == 0:
            self._force_release()

    def _force_release(self) -> None:
        self._owner, self._depth = None, 0
        if self._lock.locked():
            self._lock.release()

    async def __aenter__(self) -> WriteGuard:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


BUSY_TIMEOUT_SECONDS = 30.0
# The write guard of each async SQLite engine, by its sync engine (what the hooks are given).
_GUARDS: weakref.WeakKeyDictionary[Engine, WriteGuard] = weakref.WeakKeyDictionary()


def write_guard_of(engine: AsyncEngine) -> WriteGuard | None:
    """The engine's write guard; None unless it is SQLite."""
    return _GUARDS.get(engine.sync_engine)


def make_engine(config: Config) -> AsyncEngine:
    url = config.resolved_database_url
    kwargs: dict[str, Any] = {"pool_pre_ping": not url.startswith("sqlite")}
    if url.startswith("sqlite"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_SECONDS}
    else:
        kwargs.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url, json_serializer=dumps_storable_json, **kwargs)
    event.listen(engine.sync_engine, "before_cursor_execute", refuse_unstorable_text)
    if url.startswith("sqlite"):
        _GUARDS[engine.sync_engine] = WriteGuard(BUSY_TIMEOUT_SECONDS)
        _install_sqlite_hooks(engine.sync_engine)
    return engine


def make_sync_sqlite_engine(config: Config) -> Engine:
    """A blocking engine on the same SQLite file, for short writes that run whole in one thread.

    Through aiosqlite every statement is a round trip to its thread and back to the event
    loop; on a busy host each one waited milliseconds for the loop. The job engine's claim and
    finish transactions run here instead: one hop for the whole transaction.
    """
    url = make_url(config.resolved_database_url).set(drivername="sqlite+pysqlite")
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        json_serializer=dumps_storable_json,
    )
    event.listen(engine, "before_cursor_execute", refuse_unstorable_text)
    _install_sqlite_hooks(engine)
    return engine


def _install_sqlite_hooks(sync_engine: Engine) -> None:
    event.listen(sync_engine, "connect", _sqlite_pragmas)
    event.listen(sync_engine, "before_cursor_execute", _sqlite_write_begins_immediate)
    for name in ("commit", "rollback"):
        event.listen(sync_engine, name, _sqlite_tx_ended)
    # The pool rolls back returned connections itself, without Connection events.
    event.listen(sync_engine.pool, "reset", _sqlite_pool_reset)
    event.listen(sync_engine.pool, "invalidate", _sqlite_pool_reset)


_WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT")
_IN_WRITE_TX = "foredeck_write_tx"
_HOLDS_GUARD = "foredeck_write_guard"


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
        guard = _GUARDS.get(conn.engine)
        if guard is not None:
            # An async engine's session, run in SQLAlchemy's greenlet on the event loop.
            await_only(guard.acquire())
            conn.info[_HOLDS_GUARD] = guard
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            _release(conn.info)
            open_now = _open_writers()
            if open_now:
                exc.add_note(f"open write transactions of this process: {open_now}")
            raise
        except BaseException:
            _release(conn.info)
            raise
        conn.info[_IN_WRITE_TX] = True
        _WRITERS[id(conn.info)] = (time.monotonic(), _who())


# Who opened each write transaction still open, by its connection's info dict: when SQLite
# reports the file locked for its whole busy timeout, the error names them.
_WRITERS: dict[int, tuple[float, str]] = {}


def _who() -> str:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    if task is not None:
        return repr(task.get_coro())
    return f"thread {threading.current_thread().name}"


def _open_writers() -> list[str]:
    now = time.monotonic()
    return [f"{who} for {now - since:.1f} s" for since, who in list(_WRITERS.values())]


def _release(info: dict[str, Any]) -> None:
    _WRITERS.pop(id(info), None)
    info.pop(_IN_WRITE_TX, None)
    guard = info.pop(_HOLDS_GUARD, None)
    if guard is not None:
        guard.release()


def _sqlite_tx_ended(conn: Any, *args: Any) -> None:
    # An invalidated connection (a query cut off by a cancel) has no info to reset (the pool
    # does it, and releases the guard), and touching conn.info would raise
    # PendingRollbackError out of the rollback.
    if not conn.invalidated:
        _release(conn.info)


def _sqlite_pool_reset(dbapi_connection: Any, record: Any, *args: Any) -> None:
    _release(record.info)


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
