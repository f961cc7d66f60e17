"""The embedded pool's slots per queue come from `workers.concurrency`, re-read while it runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Job
from foredeck.settings import service as settings_service
from foredeck.workers.parts import EXECUTOR
from tests.conftest import put_section, stored_section, unique

DEADLINE = 60.0


@contextlib.asynccontextmanager
async def concurrency_setting(app: FastAPI, value: dict[str, int]) -> AsyncIterator[None]:
    """workers.concurrency with these queues' slots added; what was there is put back after."""
    async with transaction(runtime_of(app).sessionmaker) as session:
        before = (await settings_service.get_section(session, "workers")).concurrency
    try:
        async with stored_section(app, "workers", {"concurrency": {**before, **value}}):
            yield
    finally:
        await runtime_of(app)[EXECUTOR].refresh()


async def set_concurrency(app: FastAPI, value: dict[str, int]) -> None:
    await put_section(app, "workers", {"concurrency": value})


async def _statuses(app: FastAPI, queue: str) -> dict[str, int]:
    async with runtime_of(app).sessionmaker() as session:
        rows = await session.execute(
            select(Job.status, func.count()).where(Job.queue == queue).group_by(Job.status)
        )
        return {status: int(n) for status, n in rows.all()}


async def test_each_queue_runs_with_its_own_slots(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    executor = runtime_of(app)[EXECUTOR]
    queue = unique("slots")
    async with concurrency_setting(app, {queue: 0}):
        await executor.refresh()
        for _ in range(4):
            resp = await client.post(
                "/api/v1/jobs",
                json={"kind": "test", "queue": queue, "params": {"count": 4, "delay": 0.25}},
                headers=operator,
            )
            assert resp.status_code == 202, resp.text
        # No slot for this queue: its jobs wait, whatever else the pool runs.
        await asyncio.sleep(1.0)
        assert await _statuses(app, queue) == {"queued": 4}

        # Two slots, picked up by the pool's own heartbeat (no restart, no refresh call).
        await set_concurrency(app, {"default": 2, queue: 2})
        loop = asyncio.get_running_loop()
        end = loop.time() + DEADLINE
        most = 0
        while loop.time() < end:
            now = await _statuses(app, queue)
            most = max(most, now.get("running", 0))
            if now.get("succeeded") == 4:
                break
            await asyncio.sleep(0.05)
        assert now.get("succeeded") == 4, now
        assert most == 2
        workers = (await client.get("/api/v1/workers", headers=operator)).json()["data"]
        mine = next(w for w in workers if w["id"] == executor.worker_id)
        assert mine["payload"]["slots"][queue] == 2
        assert mine["concurrency"] == executor.total_slots
    if "workers" not in await _stored(app):
        # Unset again: the shared pool of FOREDECK_WORKERS slots.
        assert executor.per_queue is None
        assert executor.slots(queue) == executor.total_slots == runtime_of(app).config.workers


async def _stored(app: FastAPI) -> set[str]:
    async with runtime_of(app).sessionmaker() as session:
        return await settings_service.stored_keys(session)
