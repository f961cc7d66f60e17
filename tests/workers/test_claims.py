"""The claim transaction: exactly `limit` due jobs, best first, each with its run and event."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy import func, select, update

from foredeck.db import transaction
from foredeck.jobs import controls as job_controls
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job, JobEvent, JobRun
from foredeck.workers.runner import JobRunner
from tests.conftest import unique


async def _running(app: FastAPI, queue: str) -> set[str]:
    async with runtime_of(app).sessionmaker() as session:
        rows = await session.execute(
            select(Job.id).where(Job.queue == queue, Job.status == "running")
        )
        return set(rows.scalars())


async def test_claim_takes_the_limit_best_first_and_records_each_start(
    app: FastAPI, main_worker_paused: None
) -> None:
    queue = unique("claims")
    priorities = [0, 5, 0, 9, 0, 5, 1]
    async with transaction(runtime_of(app).sessionmaker) as session:
        ids = [
            (await jobs_service.create_job(session, kind="noop", queue=queue, priority=p)).id
            for p in priorities
        ]
    runner = JobRunner(runtime_of(app), unique("claimer"))
    try:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await job_controls.pause_queue(session, queue)
        assert await runner.claim(limit=3, queues=[queue]) == []

        async with transaction(runtime_of(app).sessionmaker) as session:
            await job_controls.resume_queue(session, queue)
        first = await runner.claim(limit=3, queues=[queue])
        # Highest priority first; equal priorities in the order they were created.
        assert [c.job_id for c in first] == [ids[3], ids[1], ids[5]]
        assert await _running(app, queue) == {c.job_id for c in first}
        assert all(c.attempt == 1 and c.fence == 1 for c in first)

        rest = await runner.claim(limit=10, queues=[queue])
        assert [c.job_id for c in rest] == [ids[6], ids[0], ids[2], ids[4]]
        assert await runner.claim(limit=10, queues=[queue]) == []

        async with runtime_of(app).sessionmaker() as session:
            runs = await session.execute(
                select(JobRun.id, JobRun.worker_id, JobRun.status).where(JobRun.job_id.in_(ids))
            )
            assert {(r.worker_id, r.status) for r in runs} == {(runner.worker_id, "running")}
            assert sorted(c.run_id for c in first + rest) == sorted(
                (await session.execute(select(JobRun.id).where(JobRun.job_id.in_(ids)))).scalars()
            )
            started = await session.execute(
                select(func.count()).where(JobEvent.job_id.in_(ids), JobEvent.message == "running")
            )
            assert started.scalar_one() == len(ids)
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await session.execute(
                update(Job)
                .where(Job.id.in_(ids))
                .values(status="cancelled", finished_at=utcnow(), worker_id=None)
            )


async def test_a_finish_batch_writes_only_the_attempts_still_holding_their_token(
    app: FastAPI, main_worker_paused: None
) -> None:
    queue = unique("fenced")
    async with transaction(runtime_of(app).sessionmaker) as session:
        ids = [(await jobs_service.create_job(session, kind="noop", queue=queue)).id for _ in "ab"]
    runner = JobRunner(runtime_of(app), unique("finisher"))
    claimed = await runner.claim(limit=2, queues=[queue])
    assert sorted(c.job_id for c in claimed) == sorted(ids)
    stale = claimed[0]
    # Another attempt took the job over (as after a lease ran out): its token moved on.
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(update(Job).where(Job.id == stale.job_id).values(fence=Job.fence + 1))
    # Both outcomes go to the finisher in the same tick, so they share one batch.
    outcomes = await asyncio.gather(*(runner.execute(c) for c in claimed))
    assert outcomes == ["lost", "succeeded"]
    async with runtime_of(app).sessionmaker() as session:
        rows = dict(
            (await session.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))).all()
        )
    assert rows == {stale.job_id: "running", claimed[1].job_id: "succeeded"}
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(
            update(Job).where(Job.id == stale.job_id).values(status="cancelled", worker_id=None)
        )
