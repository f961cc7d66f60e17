"""Deleting finished jobs (one, in bulk, by retention) with everything they own; never an
active one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from foredeck.db import transaction
from foredeck.jobs import deletion
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.generator import GeneratorChunk
from foredeck.models.jobs import Job, JobEvent, JobRun, Lock
from foredeck.schedules.handlers import sweep_by_settings
from tests.conftest import assert_error
from tests.jobs.helpers import finished_jobs, parked_job, start_test_job, wait_job


async def owned_rows(app: FastAPI, job_id: str) -> dict[str, int]:
    async with runtime_of(app).sessionmaker() as session:

        async def count(model: Any, column: Any) -> int:
            return int(
                await session.scalar(
                    select(func.count()).select_from(model).where(column == job_id)
                )
                or 0
            )

        return {
            "jobs": await count(Job, Job.id),
            "runs": await count(JobRun, JobRun.job_id),
            "events": await count(JobEvent, JobEvent.job_id),
            "chunks": await count(GeneratorChunk, GeneratorChunk.job_id),
            "locks": await count(Lock, Lock.holder_job_id),
        }


async def wait_gone(path: Path) -> None:
    for _ in range(100):
        if not await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} is still there")


async def test_delete_removes_the_job_and_all_it_owns(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    [job_id] = await finished_jobs(app, 1, status="failed")
    lock_name = f"test:{job_id}"
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add(GeneratorChunk(job_id=job_id, chunk_index=0, status="done"))
        session.add(Lock(name=lock_name, holder_job_id=job_id, fence=3))
    work = runtime_of(app).config.path("jobs", job_id)
    (work / "chunks").mkdir(parents=True, exist_ok=True)
    (work / "chunks" / "00000.parquet").write_bytes(b"x")
    export = runtime_of(app).config.path("exports", job_id)
    (export / "out.csv").write_text("a\n")
    assert (await owned_rows(app, job_id)) == {
        "jobs": 1,
        "runs": 1,
        "events": 2,
        "chunks": 1,
        "locks": 1,
    }

    resp = await client.delete(f"/api/v1/jobs/{job_id}", headers=operator)
    assert resp.status_code == 204, resp.text
    assert (await owned_rows(app, job_id)) == dict.fromkeys(
        ("jobs", "runs", "events", "chunks", "locks"), 0
    )
    async with runtime_of(app).sessionmaker() as session:
        lock = await session.get(Lock, lock_name)
        # The lock row stays, free, with its fencing token: an old holder stays fenced off.
        assert lock is not None and lock.holder_job_id is None and lock.fence == 3
    await wait_gone(work)
    await wait_gone(export)
    assert_error(await client.get(f"/api/v1/jobs/{job_id}", headers=operator), 404, "NOT_FOUND")
    again = assert_error(
        await client.delete(f"/api/v1/jobs/{job_id}", headers=operator), 404, "NOT_FOUND"
    )
    assert job_id in again["message"]


async def test_a_running_job_is_409_and_nothing_is_deleted(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    job = await start_test_job(client, operator, count=10_000, delay=0.01)
    await wait_job(client, operator, job["id"], ("running",))
    work = runtime_of(app).config.path("jobs", job["id"])
    before = await owned_rows(app, job["id"])
    err = assert_error(
        await client.delete(f"/api/v1/jobs/{job['id']}", headers=operator),
        409,
        "INVALID_JOB_STATE",
    )
    assert "running" in err["message"] and "cancel it first" in err["message"]
    assert err["details"] == [{"field": "status", "message": "running"}]
    after = await owned_rows(app, job["id"])
    assert after["jobs"] == 1 and after["runs"] >= before["runs"] >= 1
    assert after["events"] >= before["events"]
    assert work.exists()
    await client.post(
        f"/api/v1/jobs/{job['id']}/control", json={"action": "cancel"}, headers=operator
    )
    await wait_job(client, operator, job["id"], ("cancelled",))
    resp = await client.delete(f"/api/v1/jobs/{job['id']}", headers=operator)
    assert resp.status_code == 204, resp.text


async def test_roles_and_unknown_ids(
    client: httpx.AsyncClient, app: FastAPI, viewer: dict, operator: dict
) -> None:
    [job_id] = await finished_jobs(app, 1)
    assert_error(
        await client.delete(f"/api/v1/jobs/{job_id}", headers=viewer), 403, "INSUFFICIENT_ROLE"
    )
    bulk = await client.post(
        "/api/v1/jobs/bulk", json={"action": "delete", "ids": [job_id]}, headers=viewer
    )
    assert_error(bulk, 403, "INSUFFICIENT_ROLE")
    assert (await owned_rows(app, job_id))["jobs"] == 1
    assert_error(await client.delete(f"/api/v1/jobs/{uuid.uuid4()}", headers=operator), 404)
    assert_error(await client.delete(f"/api/v1/jobs/{job_id}"), 401)


async def test_bulk_delete_by_ids_and_by_filter(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    finished = await finished_jobs(app, 2, status="cancelled")
    queued = await parked_job(app)
    missing = str(uuid.uuid4())
    resp = await client.post(
        "/api/v1/jobs/bulk",
        json={"action": "delete", "ids": [*finished, queued, missing]},
        headers=operator,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()["data"]
    assert body["action"] == "delete" and body["matched"] == 4
    assert sorted(body["changed"]) == sorted(finished)
    reasons = {s["id"]: s["error"] for s in body["skipped"]}
    assert "queued" in reasons[queued] and reasons[missing] == f"No job {missing}"
    assert (await owned_rows(app, queued))["jobs"] == 1
    for job_id in finished:
        assert (await owned_rows(app, job_id))["jobs"] == 0

    old = await finished_jobs(app, 3, finished_days_ago=2)
    async with runtime_of(app).sessionmaker() as session:
        job = await session.get(Job, old[0])
        assert job is not None
        queue = job.queue
    by_filter = await client.post(
        "/api/v1/jobs/bulk",
        json={"action": "delete", "filter": {"queue": [queue], "status": ["succeeded"]}},
        headers=operator,
    )
    assert by_filter.status_code == 200, by_filter.text
    assert sorted(by_filter.json()["data"]["changed"]) == sorted(old)
    await client.post(f"/api/v1/jobs/{queued}/control", json={"action": "cancel"}, headers=operator)


async def test_retention_sweep_deletes_old_finished_jobs_in_batches(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = await finished_jobs(app, 5, finished_days_ago=40)
    old_failed = await finished_jobs(app, 1, status="failed", finished_days_ago=31)
    recent = await finished_jobs(app, 1, finished_days_ago=5)
    queued = await parked_job(app)
    async with transaction(runtime_of(app).sessionmaker) as session:
        # Still queued although it is old: retention never touches an active job.
        await session.execute(
            update(Job)
            .where(Job.id == queued)
            .values(created_at=utcnow() - timedelta(days=90))
            .execution_options(synchronize_session=False)
        )
    batches: list[int] = []
    real = deletion.delete_jobs

    async def spy(session: Any, ids: list[str], **kwargs: Any) -> Any:
        batches.append(len(ids))
        return await real(session, ids, **kwargs)

    monkeypatch.setattr(deletion, "delete_jobs", spy)
    deleted = await deletion.sweep_expired(runtime_of(app), days=30, batch=2)
    assert deleted >= 6
    assert batches and max(batches) <= 2 and len(batches) >= 3
    for job_id in (*old, *old_failed):
        assert (await owned_rows(app, job_id)) == dict.fromkeys(
            ("jobs", "runs", "events", "chunks", "locks"), 0
        )
    for job_id in (*recent, queued):
        assert (await owned_rows(app, job_id))["jobs"] == 1
    # The periodic round reads retention.job_days (30 by default): nothing more is old enough.
    assert await sweep_by_settings(runtime_of(app)) == 0
    assert (await owned_rows(app, recent[0]))["jobs"] == 1
    async with transaction(runtime_of(app).sessionmaker) as session:
        await jobs_service.control_job(session, queued, "cancel")
