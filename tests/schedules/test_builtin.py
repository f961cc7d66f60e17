"""The built-in job-retention schedule: run now, its job deletes old finished jobs (and their
schedule fires go with them), recent ones stay."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Job
from foredeck.models.schedules import Schedule, ScheduleFire
from foredeck.schedules import service
from tests.jobs.helpers import finished_jobs, wait_job
from tests.schedules.helpers import make_schedule


async def test_job_retention_runs_as_a_schedule(
    app: FastAPI, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    old = await finished_jobs(app, 2, finished_days_ago=40)
    recent = await finished_jobs(app, 1, finished_days_ago=1)
    # An old job a schedule made: its fire row goes with it.
    sid = await make_schedule(app, interval_seconds=3600)
    async with transaction(runtime_of(app).sessionmaker) as session:
        schedule = await service.get_schedule(session, sid)
        session.add(ScheduleFire(schedule_id=sid, job_id=old[0], fire_at=schedule.next_fire_at,
                                 created_at=schedule.created_at))  # fmt: skip
        builtin = await service.get_by_name(session, "job-retention")
        assert builtin is not None and builtin.builtin
    fired = await client.post(f"/api/v1/schedules/{builtin.id}/run-now", headers=operator)
    assert fired.status_code == 202, fired.text
    job = await wait_job(client, operator, fired.json()["data"]["job_id"], ("succeeded",))
    assert job["result"]["deleted"] >= 2
    async with runtime_of(app).sessionmaker() as session:
        left = set(
            (await session.execute(select(Job.id).where(Job.id.in_(old + recent)))).scalars()
        )
        fires = (
            await session.execute(select(ScheduleFire).where(ScheduleFire.schedule_id == sid))
        ).all()
    assert left == set(recent)
    assert fires == []


async def test_a_replica_that_finds_the_builtin_schedules_made_meanwhile_starts(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foredeck.schedules import lifecycle

    # The other replica committed them after this one looked and found none.
    async def none_yet(_session: object, _name: str) -> None:
        return None

    monkeypatch.setattr(service, "get_by_name", none_yet)
    await lifecycle.ensure_builtin(runtime_of(app))
    monkeypatch.undo()
    async with runtime_of(app).sessionmaker() as session:
        names = [s["name"] for s in lifecycle.BUILTIN]
        count = await session.scalar(
            select(func.count()).select_from(Schedule).where(Schedule.name.in_(names))
        )
    assert count == len(names)
