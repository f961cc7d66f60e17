"""Worker registry and control: list, pause/resume one or all, drain (503), stale detection."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.db import transaction
from foredeck.jobs import controls as job_controls
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job, Worker
from foredeck.workers.parts import EXECUTOR, MAINTENANCE
from tests.conftest import assert_error, unique
from tests.jobs.helpers import start_test_job, wait_job


async def _embedded_worker(client: httpx.AsyncClient, headers: dict, app: FastAPI) -> dict:
    worker_id = runtime_of(app)[EXECUTOR].worker_id
    resp = await client.get(f"/api/v1/workers/{worker_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def test_list_shows_embedded_worker(
    client: httpx.AsyncClient, viewer: dict, app: FastAPI
) -> None:
    resp = await client.get("/api/v1/workers", headers=viewer)
    assert resp.status_code == 200
    body = resp.json()
    worker = next(w for w in body["data"] if w["id"] == runtime_of(app)[EXECUTOR].worker_id)
    assert worker["role"] == "embedded" and worker["status"] in ("running", "draining")
    assert worker["concurrency"] == runtime_of(app).config.workers and worker["pid"] > 0
    assert set(body["meta"]["controls"]) >= {"draining", "paused_all", "paused_queues"}
    assert_error(await client.get("/api/v1/workers/nobody", headers=viewer), 404)
    assert_error(await client.post("/api/v1/workers/drain", headers=viewer), 403)


async def test_pause_worker_holds_jobs_until_resume(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    worker_id = runtime_of(app)[EXECUTOR].worker_id
    resp = await client.post(f"/api/v1/workers/{worker_id}/pause", headers=operator)
    assert resp.status_code == 200 and resp.json()["data"]["status"] == "paused"
    try:
        job = await start_test_job(client, operator, count=1, delay=0)
        await asyncio.sleep(0.5)
        still = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
        assert still["status"] == "queued"
        assert (await _embedded_worker(client, operator, app))["paused"] is True
    finally:
        resp = await client.post(f"/api/v1/workers/{worker_id}/resume", headers=operator)
        assert resp.status_code == 200 and resp.json()["data"]["status"] == "running"
    await wait_job(client, operator, job["id"], ("succeeded",))


async def test_pause_all_and_resume_all(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    resp = await client.post("/api/v1/workers/pause-all", headers=operator)
    assert resp.json()["data"]["paused_all"] is True
    try:
        job = await start_test_job(client, operator, count=1, delay=0)
        await asyncio.sleep(0.5)
        still = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
        assert still["status"] == "queued"
        summary = (await client.get("/api/v1/queue", headers=operator)).json()["data"]
        assert summary["paused_all"] is True
        default = next(q for q in summary["queues"] if q["queue"] == "default")
        assert default["pending"] >= 1
    finally:
        resp = await client.post("/api/v1/workers/resume-all", headers=operator)
        assert resp.json()["data"]["paused_all"] is False
    await wait_job(client, operator, job["id"], ("succeeded",))


async def test_drain_refuses_new_jobs_and_holds_while_a_job_is_active(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    job = await start_test_job(client, operator, count=10_000, delay=0.01)
    try:
        resp = await client.post("/api/v1/workers/drain", headers=operator)
        assert resp.status_code == 200 and resp.json()["data"]["draining"] is True
        err = assert_error(
            await client.post("/api/v1/jobs/test", headers=operator), 503, "WORKERS_DRAINING"
        )
        assert "draining" in err["message"].lower()
        # This test's own job (10,000 steps) is queued or running: the tick must not end it.
        await runtime_of(app)[MAINTENANCE].tick()
        controls = (await client.get("/api/v1/workers/controls", headers=operator)).json()
        assert controls["data"]["draining"] is True
    finally:
        await client.post("/api/v1/workers/undrain", headers=operator)
        await client.post(
            f"/api/v1/jobs/{job['id']}/control", json={"action": "cancel"}, headers=operator
        )
    assert (
        await client.post("/api/v1/jobs/test", json={"count": 1, "delay": 0}, headers=operator)
    ).status_code == 202


async def test_a_drain_ends_by_itself_once_no_job_is_active(db: AsyncSession) -> None:
    await job_controls.drain(db)
    await db.flush()
    # Other tests' jobs share the database: they are ended inside this rolled-back transaction
    # only, so the count is zero here whatever else is queued in the session.
    await db.execute(update(Job).where(Job.status.in_(ACTIVE_STATUSES)).values(status="cancelled"))
    assert await job_controls.active_job_count(db) == 0
    assert await job_controls.finish_drain_if_empty(db) is True
    assert await job_controls.is_draining(db) is False
    # Nothing to end a second time.
    assert await job_controls.finish_drain_if_empty(db) is False


async def test_undrain_ends_drain_now(client: httpx.AsyncClient, operator: dict) -> None:
    job = await start_test_job(client, operator, count=10_000, delay=0.01)
    try:
        await client.post("/api/v1/workers/drain", headers=operator)
        assert_error(await client.post("/api/v1/jobs/test", headers=operator), 503)
        resp = await client.post("/api/v1/workers/undrain", headers=operator)
        assert resp.json()["data"]["draining"] is False
        assert (
            await client.post("/api/v1/jobs/test", json={"count": 1, "delay": 0}, headers=operator)
        ).status_code == 202
    finally:
        await client.post("/api/v1/workers/undrain", headers=operator)
        await client.post(
            f"/api/v1/jobs/{job['id']}/control", json={"action": "cancel"}, headers=operator
        )


async def test_silent_worker_is_stale(
    client: httpx.AsyncClient, viewer: dict, app: FastAPI
) -> None:
    worker_id = unique("ghost@")
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add(
            Worker(
                id=worker_id,
                host="elsewhere",
                pid=1,
                role="celery",
                queues=["default"],
                status="running",
                paused=False,
                concurrency=2,
                processed=0,
                failed=0,
                running_jobs=0,
                started_at=utcnow() - timedelta(hours=2),
                heartbeat_at=utcnow() - timedelta(hours=1),
                payload={},
            )
        )
    worker = (await client.get(f"/api/v1/workers/{worker_id}", headers=viewer)).json()["data"]
    assert worker["status"] == "stale"


async def test_pause_queue(client: httpx.AsyncClient, operator: dict) -> None:
    queue = unique("pq")
    resp = await client.post(f"/api/v1/queues/{queue}/pause", headers=operator)
    assert resp.status_code == 200 and queue in resp.json()["data"]["paused_queues"]
    try:
        job = (
            await client.post(
                "/api/v1/jobs",
                json={"kind": "test", "params": {"count": 1, "delay": 0}, "queue": queue},
                headers=operator,
            )
        ).json()["data"]["job"]
        await asyncio.sleep(0.5)
        assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"][
            "status"
        ] == "queued"
    finally:
        await client.post(f"/api/v1/queues/{queue}/resume", headers=operator)
    await wait_job(client, operator, job["id"], ("succeeded",))
    assert_error(await client.post("/api/v1/queues/bad queue!/pause", headers=operator), 422)
