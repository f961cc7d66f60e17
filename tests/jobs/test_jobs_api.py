"""Jobs end to end on the embedded executor: create, run, progress, runs, events, bad input."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.db import transaction
from foredeck.jobs import dispatch
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Job
from tests.conftest import assert_error, unique
from tests.jobs.helpers import start_test_job, wait_job


async def test_test_job_counts_to_success(client: httpx.AsyncClient, operator: dict) -> None:
    resp = await client.post("/api/v1/jobs/test", json={"count": 3, "delay": 0}, headers=operator)
    assert resp.status_code == 202, resp.text
    body = resp.json()["data"]
    assert body["status"] == "queued" and body["job_id"] == body["job"]["id"]
    job = await wait_job(client, operator, body["job_id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job
    assert job["result"] == {"counted": 3, "resumed_from": 0}
    assert job["progress"]["done"] == 3 and job["progress"]["percent"] == 100.0
    assert job["attempts"] == 1 and job["worker_id"] and job["finished_at"]
    runs = (await client.get(f"/api/v1/jobs/{job['id']}/runs", headers=operator)).json()["data"]
    assert [r["status"] for r in runs] == ["succeeded"]
    assert runs[0]["duration_ms"] is not None and runs[0]["worker_id"] == job["worker_id"]
    events = (
        await client.get(f"/api/v1/jobs/{job['id']}/events/history", headers=operator)
    ).json()["data"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    statuses = [e["data"]["status"] for e in events if e["kind"] == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    assert any(e["kind"] == "progress" and e["data"]["done"] == 3 for e in events)


async def test_bad_kind_and_params_are_422_and_create_nothing(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    from foredeck.models.base import utcnow

    started = utcnow()
    err = assert_error(
        await client.post("/api/v1/jobs", json={"kind": "nope"}, headers=operator), 422
    )
    assert err["details"][0]["field"] == "kind"
    err = assert_error(
        await client.post(
            "/api/v1/jobs",
            json={"kind": "test", "params": {"count": -1, "delay": "x"}},
            headers=operator,
        ),
        422,
    )
    fields = {d["field"] for d in err["details"]}
    assert {"params.count", "params.delay"} <= fields
    assert_error(
        await client.post("/api/v1/jobs", json={"kind": "test", "extra": 1}, headers=operator),
        422,
    )
    assert_error(await client.post("/api/v1/jobs/test", json={"count": 0}, headers=operator), 422)
    async with runtime_of(app).sessionmaker() as session:
        made = await session.execute(
            select(func.count())
            .select_from(Job)
            .where(Job.created_at >= started, Job.kind.in_(("nope", "test")))
        )
    assert made.scalar_one() == 0


async def test_roles(client: httpx.AsyncClient, viewer: dict) -> None:
    assert_error(await client.post("/api/v1/jobs/test", headers=viewer), 403, "INSUFFICIENT_ROLE")
    assert (await client.get("/api/v1/jobs", headers=viewer)).status_code == 200
    assert_error(await client.get("/api/v1/jobs"), 401)


async def test_get_missing_job_is_404(client: httpx.AsyncClient, viewer: dict) -> None:
    assert_error(await client.get("/api/v1/jobs/does-not-exist", headers=viewer), 404)
    assert_error(await client.get("/api/v1/jobs/does-not-exist/runs", headers=viewer), 404)


async def test_list_filters(client: httpx.AsyncClient, operator: dict) -> None:
    lock = unique("lf")
    job = await start_test_job(client, operator, count=1, delay=0, lock=lock)
    await wait_job(client, operator, job["id"], ("succeeded",))
    resp = await client.get(
        "/api/v1/jobs",
        params={"status": "succeeded", "kind": "test", "q": job["id"][:13]},
        headers=operator,
    )
    data = resp.json()
    assert resp.status_code == 200 and [j["id"] for j in data["data"]] == [job["id"]]
    resp = await client.get(
        "/api/v1/jobs", params={"status": "failed", "q": job["id"][:13]}, headers=operator
    )
    assert resp.json()["meta"]["total"] == 0
    assert_error(await client.get("/api/v1/jobs?status=bogus", headers=operator), 422)
    kinds = (await client.get("/api/v1/jobs/kinds", headers=operator)).json()["data"]
    assert {"test", "noop"} <= {k["kind"] for k in kinds}


async def test_job_is_enqueued_only_after_commit(app: FastAPI) -> None:
    class Boom(Exception):
        pass

    # The executors hear of new jobs through the engine's wakers; this one records them.
    heard: list[str] = []

    def recorder(jobs: list[dispatch.Wake]) -> None:
        heard.extend(job_id for job_id, _queue, _delay in jobs)

    engine = runtime_of(app).engine.sync_engine
    dispatch.register_waker(engine, recorder)
    try:
        with contextlib.suppress(Boom):
            async with transaction(runtime_of(app).sessionmaker) as session:
                rolled_back = await jobs_service.create_job(session, kind="noop")
                await session.flush()
                assert rolled_back.id not in heard  # written, not committed: nobody told
                raise Boom
        assert rolled_back.id not in heard  # rolled back: never announced
        async with runtime_of(app).sessionmaker() as session:
            assert await session.get(Job, rolled_back.id) is None

        async with transaction(runtime_of(app).sessionmaker) as session:
            job = await jobs_service.create_job(session, kind="noop")
            await session.flush()
            assert job.id not in heard
        assert heard.count(job.id) == 1  # announced by the commit itself
    finally:
        dispatch.unregister_waker(engine, recorder)
    async with runtime_of(app).sessionmaker() as session:
        for _ in range(600):
            row = await session.get(Job, job.id, populate_existing=True)
            if row is not None and row.status == "succeeded":
                break
            await asyncio.sleep(0.05)
        assert row is not None and row.status == "succeeded"
