"""The engine's hot writes: a transaction PostgreSQL picks as a deadlock victim runs again."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, text

from foredeck.kit.runtime import runtime_of
from foredeck.kit.writes import run_write
from tests.conftest import unique


async def test_a_deadlock_victim_is_run_again(app: FastAPI) -> None:
    if runtime_of(app).config.is_sqlite:
        pytest.skip("SQLite has one writer at a time: no deadlocks between transactions")
    table = unique("deadlock_probe").replace("-", "_")
    engine = runtime_of(app).engine
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)"))
        await conn.execute(text(f"INSERT INTO {table} VALUES (1, 0), (2, 0)"))
    other_holds_2, ours_holds_1 = asyncio.Event(), asyncio.Event()
    calls = 0

    async def other() -> None:
        async with engine.connect() as conn:
            # This side waits long before looking for a deadlock, so ours is the victim.
            await conn.execute(text("SET LOCAL deadlock_timeout = '10s'"))
            await conn.execute(text(f"UPDATE {table} SET v = v + 10 WHERE id = 2"))
            other_holds_2.set()
            await ours_holds_1.wait()
            await conn.execute(text(f"UPDATE {table} SET v = v + 10 WHERE id = 1"))
            await conn.commit()

    def ours(conn: Connection) -> int:
        nonlocal calls
        calls += 1
        conn.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
        conn.execute(text(f"UPDATE {table} SET v = v + 1 WHERE id = 1"))
        ours_holds_1.set()
        conn.execute(text(f"UPDATE {table} SET v = v + 1 WHERE id = 2"))
        return calls

    try:
        task = asyncio.create_task(other())
        await asyncio.wait_for(other_holds_2.wait(), 10)
        assert await asyncio.wait_for(run_write(runtime_of(app), ours), 30) == 2
        await asyncio.wait_for(task, 10)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT id, v FROM {table} ORDER BY id"))).all()
        # Both transactions count once: the aborted first try left nothing behind.
        assert [tuple(r) for r in rows] == [(1, 11), (2, 11)]
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))
