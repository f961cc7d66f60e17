"""A `foredeck worker`'s slots: ids from messages run within the slots, each job once, and a
message is acked only once all its jobs are claimed or found taken."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.db import transaction
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Job, JobRun
from foredeck.workers.message_pool import MessagePool
from foredeck.workers.runner import JobRunner
from tests.conftest import unique


async def _create(app: FastAPI, n: int, params: dict) -> list[str]:
    async with transaction(runtime_of(app).sessionmaker) as session:
        return [
            (await jobs_service.create_job(session, kind="test", params=params)).id
            for _ in range(n)
        ]


async def test_messages_run_within_the_slots_and_are_acked_after_their_claims(
    app: FastAPI, main_worker_paused: None
) -> None:
    ids = await _create(app, 5, {"count": 2, "delay": 0.05})
    pool = MessagePool(JobRunner(runtime_of(app), unique("celery")), concurrency=2)
    acks: list[str] = []
    all_acked = asyncio.Event()

    def ack(name: str) -> None:
        acks.append(name)
        if len(acks) == 3:
            all_acked.set()

    outcomes = [asyncio.get_running_loop().create_future() for _ in range(3)]
    pool.add(ids[:3], lambda: ack("a"), outcomes)
    # The same job twice in one message and again in another: it runs once.
    pool.add([ids[3], ids[3]], lambda: ack("b"))
    pool.add([ids[3], ids[4]], lambda: ack("c"))
    assert acks == []  # nothing is claimed before the loop runs the claim

    async with asyncio.timeout(30):
        assert await asyncio.gather(*outcomes) == ["succeeded"] * 3
        await all_acked.wait()
        await pool.drain(30)
    assert sorted(acks) == ["a", "b", "c"]

    async with runtime_of(app).sessionmaker() as session:
        jobs = (await session.execute(select(Job).where(Job.id.in_(ids)))).scalars().all()
        runs = await session.execute(
            select(JobRun.job_id, func.count()).where(JobRun.job_id.in_(ids)).group_by("job_id")
        )
    assert {j.status for j in jobs} == {"succeeded"}
    assert {j.worker_id for j in jobs} == {pool.runner.worker_id}
    assert dict(runs.all()) == dict.fromkeys(ids, 1)
    spans = [(j.started_at, j.finished_at) for j in jobs]
    overlap = max(sum(1 for s, f in spans if s <= at < f) for at, _ in spans)
    assert overlap <= 2, spans


async def test_a_stopping_worker_leaves_its_messages_unacked_and_jobs_queued(
    app: FastAPI, main_worker_paused: None
) -> None:
    ids = await _create(app, 2, {"count": 1, "delay": 0})
    done = await _create(app, 1, {"count": 1, "delay": 0})
    pool = MessagePool(JobRunner(runtime_of(app), unique("celery")), concurrency=2)

    # A job that is no longer queued is skipped, and its message acked.
    first = [asyncio.get_running_loop().create_future()]
    pool.add(done, None, first)
    assert await asyncio.wait_for(first[0], 30) == "succeeded"
    again = [asyncio.get_running_loop().create_future()]
    acked = asyncio.Event()
    pool.add(done, acked.set, again)
    assert await asyncio.wait_for(again[0], 30) == "skipped"
    await asyncio.wait_for(acked.wait(), 5)

    pool.runner.interrupt()
    acks: list[str] = []
    pool.add(ids, lambda: acks.append("x"))
    await asyncio.sleep(0.3)
    assert acks == [] and [w.job_id for w in pool.waiting] == ids
    async with runtime_of(app).sessionmaker() as session:
        statuses = await session.execute(select(Job.status).where(Job.id.in_(ids)))
        assert set(statuses.scalars()) == {"queued"}
    async with transaction(runtime_of(app).sessionmaker) as session:
        for job_id in ids:
            await jobs_service.control_job(session, job_id, "cancel")
