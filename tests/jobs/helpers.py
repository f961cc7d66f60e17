"""Waiting helpers for job tests (deadlines are upper bounds, never timing assertions)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from foredeck.db import transaction
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job, JobRun

DEADLINE = 60.0


async def wait_job(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    job_id: str,
    statuses: tuple[str, ...],
    *,
    deadline: float = DEADLINE,
    predicate: Any = None,
) -> dict[str, Any]:
    """Poll a job until its status is one of `statuses` (and predicate(job) holds)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    job: dict[str, Any] = {}
    while loop.time() < end:
        resp = await client.get(f"/api/v1/jobs/{job_id}", headers=headers)
        assert resp.status_code == 200, resp.text
        job = resp.json()["data"]
        if job["status"] in statuses and (predicate is None or predicate(job)):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


async def start_test_job(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/jobs", json={"kind": "test", "params": params}, headers=headers
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["data"]["job"]  # type: ignore[no-any-return]


async def finished_jobs(
    app: FastAPI,
    n: int,
    *,
    status: str = "succeeded",
    finished_days_ago: float = 0.0,
) -> list[str]:
    """Jobs that ended (set directly, no worker involved), each with a run and events."""
    queue = f"q{uuid.uuid4().hex[:8]}"
    finished = utcnow() - timedelta(days=finished_days_ago)
    async with transaction(runtime_of(app).sessionmaker) as session:
        ids = []
        for _ in range(n):
            job = await jobs_service.create_job(
                session, kind="noop", queue=queue, run_after=utcnow() + timedelta(days=1)
            )
            ids.append(job.id)
            session.add(JobRun(job_id=job.id, status=status, finished_at=finished))
            await jobs_service.add_event(session, job.id, "status", {"status": status})
        await session.execute(
            update(Job)
            .where(Job.id.in_(ids))
            .values(status=status, finished_at=finished)
            .execution_options(synchronize_session=False)
        )
    return ids


async def parked_job(app: FastAPI) -> str:
    """A queued job no worker starts for a day."""
    async with transaction(runtime_of(app).sessionmaker) as session:
        job = await jobs_service.create_job(
            session,
            kind="noop",
            queue=f"q{uuid.uuid4().hex[:8]}",
            run_after=utcnow() + timedelta(days=1),
        )
    return job.id
