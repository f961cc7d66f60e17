"""The job engine's short writes: one transaction in one call, queued behind the write guard.

SQLite has a single write lock and its busy handler waits by sleeping (1, 2, 5 ... 100 ms), so
concurrent claims, finishes and progress writes from one process would spend most of their
time asleep. Queuing them on the engine's write guard (`db.WriteGuard`) instead hands the
write lock over at once. PostgreSQL locks rows, so there the guard does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from foredeck.db import make_sync_sqlite_engine, write_guard_of
from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)
# deadlock_detected, serialization_failure: PostgreSQL rolled the whole transaction back.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3


def write_guard(runtime: Runtime) -> Any:
    """An async context manager that serialises writes on SQLite (a no-op elsewhere).

    Sessions of the same engine take the same guard at their first write by themselves; held
    explicitly around a session's transaction, it is taken before the session's first read.
    """
    engine = runtime.engine
    guard = write_guard_of(engine) if engine is not None else None
    return guard if guard is not None else contextlib.nullcontext()


async def run_write(runtime: Runtime, fn: Callable[[Connection], T]) -> T:
    """Run fn(conn) in one transaction and commit; the engine's hot writes go through here.

    On SQLite the whole transaction runs in one worker thread on a blocking engine (one hop
    instead of one per statement), queued behind the write guard. On PostgreSQL it runs on
    the async engine through `run_sync`, so fn is written once for both. fn may run again
    when PostgreSQL aborts its transaction as a deadlock victim (finishes and claims of one
    worker run side by side, and other workers' too), so it must change nothing outside it.
    """
    config = runtime.config
    if config is not None and config.is_sqlite:
        engine = runtime.sync_write_engine
        if engine is None:
            engine = make_sync_sqlite_engine(config)
            runtime.sync_write_engine = engine
        async with write_guard(runtime):
            return await asyncio.to_thread(_in_transaction, engine, fn)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with runtime.engine.connect() as conn:
                result = await conn.run_sync(fn)
                await conn.commit()
                return result
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in RETRY_SQLSTATES or attempt == ATTEMPTS:
                raise
            log.warning("write_retried", sqlstate=code, attempt=attempt)
    raise AssertionError("unreachable")


def _in_transaction(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.connect() as conn:
        result = fn(conn)
        conn.commit()
        return result


def dispose_sync_engine(runtime: Runtime) -> None:
    engine = runtime.sync_write_engine
    if engine is not None:
        engine.dispose()
        runtime.sync_write_engine = None
