"""Two real scale-out replicas (and the session's own app) on one database, firing one schedule
with their own loops: every fire time gets exactly one job, none is skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI

from foredeck.config import Config
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.schedules import service
from tests.conftest import unique
from tests.console.server import LiveServer
from tests.schedules.helpers import cancel_jobs, fires, job_count

FIRES = 5


@pytest.fixture(scope="module")
def replicas(app: FastAPI, config: Config, redis_url: str) -> Iterator[list[LiveServer]]:
    # No executors: the replicas only serve and fire; one-second fires checked every 0.1 s.
    scaled = config.model_copy(
        update={
            "redis_url": redis_url,
            "rate_limit_enabled": False,
            "workers": 0,
            "schedule_tick_seconds": 0.1,
            "schedule_min_interval_seconds": 1,
        }
    )
    servers = [LiveServer(scaled).start(), LiveServer(scaled).start()]
    yield servers
    for server in servers:
        server.stop()


async def test_replicas_fire_each_time_once(app: FastAPI, replicas: list[LiveServer]) -> None:
    config = runtime_of(replicas[0].app).config
    assert not config.embedded
    async with transaction(runtime_of(app).sessionmaker) as session:
        schedule = await service.create_schedule(
            session,
            # Catch-up with room to spare: a replica slowed past a fire still gives it its own
            # job, so a gap in the fire times can only mean a lost fire.
            data={"name": unique("every-second-"), "kind": "noop", "interval_seconds": 1,
                  "misfire": "catch_up", "catch_up_max": 100, "overlap": "queue"},
            config=config,
        )  # fmt: skip
    try:
        # Polled for at most a minute.
        for _ in range(300):
            if len(await fires(app, schedule.id)) >= FIRES:
                break
            await asyncio.sleep(0.2)
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await service.set_enabled(
                session, schedule_id=schedule.id, enabled=False, config=config
            )
    # A fire claimed just before the pause commits with it or not at all.
    await asyncio.sleep(0.5)
    rows = await fires(app, schedule.id)
    assert len(rows) >= FIRES
    first = rows[0].fire_at
    assert first == schedule.next_fire_at
    assert [r.fire_at for r in rows] == [first + timedelta(seconds=i) for i in range(len(rows))]
    assert await job_count(app, schedule.id) == len(rows)
    await cancel_jobs(app, schedule.id)
