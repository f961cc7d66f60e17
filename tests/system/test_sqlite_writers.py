"""Writers of one process to the embedded database take turns in order (db.WriteGuard)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from foredeck import db
from foredeck.config import Config
from foredeck.kit.runtime import Runtime
from foredeck.kit.writes import dispose_sync_engine, run_write


async def test_a_waiting_writer_gets_the_next_turn(tmp_path: Path) -> None:
    """A job-engine write queued behind back-to-back session transactions runs after the one
    under way, instead of losing the lock to each next one while SQLite's busy handler sleeps."""
    config = Config(data_dir=tmp_path)
    engine = db.make_engine(config)
    state = Runtime(config, engine=engine)
    sessions = db.make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (who TEXT)"))
        hogging = asyncio.Event()

        async def hog() -> None:
            for _ in range(25):
                async with db.transaction(sessions) as session:
                    await session.execute(text("INSERT INTO t VALUES ('session')"))
                    hogging.set()
                    await asyncio.sleep(0.03)  # the write lock is held meanwhile

        task = asyncio.create_task(hog())
        await hogging.wait()
        await run_write(state, lambda conn: conn.execute(text("INSERT INTO t VALUES ('engine')")))
        await task
        async with sessions() as session:
            order = list(
                (await session.execute(text("SELECT who FROM t ORDER BY rowid"))).scalars()
            )
        # Commit order: the engine's write lands right after the transaction it waited for.
        assert order.index("engine") <= 2, order
        assert order.count("session") == 25
    finally:
        dispose_sync_engine(state)
        await engine.dispose()


async def test_the_guard_is_reentrant_and_times_out_like_sqlite() -> None:
    guard = db.WriteGuard(timeout=0.3)
    async with guard, guard:  # the holder's own nested writes do not wait for themselves
        other = asyncio.create_task(guard.acquire())
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await other
    await asyncio.wait_for(guard.acquire(), 1)
    guard.release()


async def test_a_holder_that_ended_without_releasing_does_not_block_forever() -> None:
    guard = db.WriteGuard(timeout=5)
    await asyncio.create_task(guard.acquire())  # the task ends holding it
    await asyncio.wait_for(guard.acquire(), 3)
    guard.release()
