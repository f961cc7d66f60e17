"""Crash safety in one process: fencing stops a worker wrongly declared dead from writing over a
newer attempt; a graceful stop requeues running jobs, which resume from their checkpoint."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from foredeck.db import transaction
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from foredeck.workers.embedded import EmbeddedExecutor
from foredeck.workers.runner import JobRunner
from tests.jobs.helpers import start_test_job, wait_job


async def test_fenced_out_attempt_cannot_write(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, main_worker_paused: None
) -> None:
    job = await start_test_job(client, operator, count=2000, delay=0.01)
    a, b = JobRunner(runtime_of(app), "fence-a"), JobRunner(runtime_of(app), "fence-b")
    claimed = await a.claim(limit=1, job_id=job["id"])
    assert claimed and claimed[0].fence == 1
    task_a = asyncio.create_task(a.execute(claimed[0]))
    await wait_job(
        client, operator, job["id"], ("running",), predicate=lambda j: j["progress"]["done"] > 2
    )
    # Declare A dead although it still runs: its lease is made to run out and recovery requeues.
    # One transaction, so A's own heartbeat cannot renew the lease in between.
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(
            update(Job)
            .where(Job.id == job["id"])
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        await a.recover(session)
    requeued = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
    assert requeued["status"] == "queued" and requeued["worker_id"] is None
    # Recovery raised the token: A stops at its next write, before any new attempt exists
    # (were it still writing, its row locks could also make B's SKIP LOCKED claim miss the job).
    assert await asyncio.wait_for(task_a, 60) == "lost"
    claimed_b = await b.claim(limit=1, job_id=job["id"])
    assert claimed_b and claimed_b[0].fence == 3
    task_b = asyncio.create_task(b.execute(claimed_b[0]))
    await client.post(
        f"/api/v1/jobs/{job['id']}/control", json={"action": "cancel"}, headers=operator
    )
    assert await asyncio.wait_for(task_b, 60) == "cancelled"
    done = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
    assert done["status"] == "cancelled" and done["worker_id"] == "fence-b"
    runs = (await client.get(f"/api/v1/jobs/{job['id']}/runs", headers=operator)).json()["data"]
    assert [(r["worker_id"], r["status"]) for r in runs] == [
        ("fence-a", "lost"),
        ("fence-b", "cancelled"),
    ]


async def test_graceful_stop_requeues_and_resumes_from_checkpoint(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, main_worker_paused: None
) -> None:
    executor = EmbeddedExecutor(runtime_of(app), concurrency=1, worker_id="graceful-test")
    await executor.start()
    try:
        job = await start_test_job(client, operator, count=300, delay=0.01)
        await wait_job(
            client,
            operator,
            job["id"],
            ("running",),
            predicate=lambda j: j["worker_id"] == "graceful-test" and j["progress"]["done"] > 5,
        )
    finally:
        await executor.stop()
    back = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
    assert back["status"] == "queued" and back["attempts"] == 0 and back["checkpoint"]["next"] > 0
    worker = (await client.get("/api/v1/workers/graceful-test", headers=operator)).json()["data"]
    assert worker["status"] == "stopped"
    runs = (await client.get(f"/api/v1/jobs/{job['id']}/runs", headers=operator)).json()["data"]
    assert runs[-1]["status"] == "interrupted"
    # Another worker picks it up and continues where it stopped.
    other = EmbeddedExecutor(runtime_of(app), concurrency=1, worker_id="graceful-next")
    await other.start()
    try:
        done = await wait_job(client, operator, job["id"], ("succeeded", "failed"))
    finally:
        await other.stop()
    assert done["status"] == "succeeded"
    assert done["result"]["resumed_from"] >= back["checkpoint"]["next"]


async def test_heartbeat_stops_an_attempt_that_lost_its_job(
    app: FastAPI, main_worker_paused: None
) -> None:
    """A handler that never writes or checks is stopped by the runner's heartbeat loop once
    its fence is gone, and the loop keeps beating for the attempts still running."""

    from foredeck.jobs import registry
    from foredeck.jobs import service as jobs_service

    @registry.job_handler("test_sleeps_quietly")
    async def _sleeps(ctx) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(30)

    try:
        fast = runtime_of(app)[JOB_SETTINGS].model_copy(update={"job_lease_seconds": 0.3})
        state = runtime_of(app).replaced(JOB_SETTINGS, fast)
        runner = JobRunner(state, "beat-test")
        async with transaction(runtime_of(app).sessionmaker) as session:
            ids = [
                (await jobs_service.create_job(session, kind="test_sleeps_quietly")).id
                for _ in range(2)
            ]
        claimed = await runner.claim(limit=2, job_ids=ids)
        assert len(claimed) == 2
        tasks = {c.job_id: asyncio.create_task(runner.execute(c)) for c in claimed}
        lost, alive = ids
        await asyncio.sleep(0.3)
        async with transaction(runtime_of(app).sessionmaker) as session:
            await session.execute(update(Job).where(Job.id == lost).values(fence=Job.fence + 5))
        assert await asyncio.wait_for(tasks[lost], 5) == "lost"
        # The other attempt's lease is still renewed by the same loop.
        before = await _lease(app, alive)
        await asyncio.sleep(0.35)
        assert await _lease(app, alive) > before
        assert not tasks[alive].done()
        tasks[alive].cancel()
        await asyncio.gather(tasks[alive], return_exceptions=True)
    finally:
        registry.HANDLERS.pop("test_sleeps_quietly", None)
        # Nothing of this kind may be left for the session's pool, which has no handler for it.
        async with transaction(runtime_of(app).sessionmaker) as session:
            await session.execute(
                update(Job)
                .where(Job.kind == "test_sleeps_quietly")
                .values(status="cancelled", finished_at=utcnow(), worker_id=None)
            )


async def _lease(app: FastAPI, job_id: str):  # type: ignore[no-untyped-def]
    async with runtime_of(app).sessionmaker() as session:
        return await session.scalar(
            Job.__table__.select().with_only_columns(Job.lease_expires_at).where(Job.id == job_id)
        )
