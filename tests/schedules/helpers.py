"""Schedules under a fake clock: times far in the future, so the app's own loop never sees them
due, and fires driven only for the test's own schedules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.db import make_engine, transaction
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import Runtime, runtime_of
from foredeck.models.jobs import Job
from foredeck.models.schedules import Schedule, ScheduleFire
from foredeck.schedules import firing, service
from tests.conftest import unique

T0 = datetime(2031, 1, 6, 0, 0, tzinfo=UTC)


async def make_schedule(app: FastAPI, *, now: datetime = T0, **data: Any) -> int:
    data.setdefault("name", unique("sched-"))
    data.setdefault("kind", "noop")
    # The test's previous noop job may not have run yet when the fake clock brings the next
    # fire; overlap tests say "skip" themselves.
    data.setdefault("overlap", "queue")
    async with transaction(runtime_of(app).sessionmaker) as session:
        schedule = await service.create_schedule(
            session, data=data, config=runtime_of(app).config, now=now
        )
        return schedule.id


async def fire(state: Any, schedule_id: int, now: datetime) -> int:
    return await firing.fire_due(state, now=now, ids=[schedule_id])


async def load(app: FastAPI, schedule_id: int) -> Schedule:
    async with runtime_of(app).sessionmaker() as session:
        return await service.get_schedule(session, schedule_id)


async def fires(app: FastAPI, schedule_id: int) -> list[ScheduleFire]:
    async with runtime_of(app).sessionmaker() as session:
        rows = await session.execute(
            select(ScheduleFire)
            .where(ScheduleFire.schedule_id == schedule_id)
            .order_by(ScheduleFire.fire_at)
        )
        return list(rows.scalars())


async def job_count(app: FastAPI, schedule_id: int) -> int:
    async with runtime_of(app).sessionmaker() as session:
        n = await session.execute(
            select(func.count())
            .select_from(Job)
            .join(ScheduleFire, ScheduleFire.job_id == Job.id)
            .where(ScheduleFire.schedule_id == schedule_id)
        )
        return int(n.scalar_one())


async def cancel_jobs(app: FastAPI, schedule_id: int) -> None:
    """Cancel the schedule's unfinished jobs (frees their locks)."""
    for row in await fires(app, schedule_id):
        async with transaction(runtime_of(app).sessionmaker) as session:
            job = await jobs_service.get_job(session, row.job_id)
            if job.status in ("queued", "paused"):
                await jobs_service.control_job(session, job.id, "cancel")


@asynccontextmanager
async def second_instance(app: FastAPI) -> AsyncIterator[Runtime]:
    """Another process's view of the same database: its own engine, pool and write guard."""
    engine = make_engine(runtime_of(app).config)
    try:
        yield Runtime(runtime_of(app).config, engine=engine)
    finally:
        await engine.dispose()
