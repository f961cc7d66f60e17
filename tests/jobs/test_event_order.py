"""On PostgreSQL a job's events take ids in commit order, so a feed reading `id > last` never
skips an event that commits late (SQLite has one writer, so it holds there already)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from foredeck.jobs import service as jobs_service
from foredeck.jobs.context import JobContext
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from tests.conftest import TEST_DB_URL, unique

pytestmark = pytest.mark.skipif(
    not TEST_DB_URL.startswith("postgresql"), reason="SQLite commits event ids in order"
)


async def test_handler_event_waits_for_a_concurrent_writer_of_the_same_job(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    queue = unique("evq")
    assert (await client.post(f"/api/v1/queues/{queue}/pause", headers=operator)).is_success
    try:
        resp = await client.post(
            "/api/v1/jobs", json={"kind": "test", "queue": queue}, headers=operator
        )
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["data"]["job"]["id"]
        ctx = JobContext(
            runtime=runtime_of(app),
            job_id=job_id,
            kind="test",
            queue=queue,
            fence=0,
            attempt=1,
            max_attempts=1,
            params=None,
            raw_params={},
            checkpoint=None,
            created_by=None,
            worker_id="event-order-test",
        )
        async with runtime_of(app).sessionmaker() as session:
            # Another writer of this job (a control action) has updated its row and added an
            # event, not yet committed.
            await session.execute(update(Job).where(Job.id == job_id).values(updated_at=utcnow()))
            first = await jobs_service.add_event(session, job_id, "log", message="first")
            second = asyncio.create_task(ctx.event("log", message="second"))
            await asyncio.sleep(0.5)
            assert not second.done(), "the handler's event did not wait for the job row"
            await session.commit()
        second_id = await asyncio.wait_for(second, 30)
        assert second_id > first.id
    finally:
        await client.post(f"/api/v1/queues/{queue}/resume", headers=operator)
