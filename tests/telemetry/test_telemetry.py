"""Telemetry: fresh snapshot, stored history, retention, Prometheus metrics, the live stream."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, select

from foredeck.db import transaction
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import TelemetrySample, Worker
from foredeck.telemetry import retention
from foredeck.telemetry.parts import TELEMETRY
from tests.conftest import assert_error, stored_section, unique
from tests.jobs.helpers import start_test_job, wait_job


async def test_snapshot_is_never_older_than_interval(
    client: httpx.AsyncClient, viewer: dict, app: FastAPI
) -> None:
    publisher = runtime_of(app)[TELEMETRY]
    # A cached snapshot past the interval is never served: a fresh one is taken instead.
    await publisher.current()
    publisher.latest_at = time.monotonic() - publisher.interval - 1
    started = utcnow()
    resp = await client.get("/api/v1/telemetry/snapshot", headers=viewer)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    snap, interval = body["data"], body["meta"]["interval_seconds"]
    assert interval == publisher.interval
    assert datetime.fromisoformat(snap["at"]) >= started
    assert {"queue_depth", "queues", "workers", "jobs", "controls"} <= set(snap)
    # One still inside the interval is served as it is.
    publisher.latest_at = time.monotonic()
    cached = (await client.get("/api/v1/telemetry/snapshot", headers=viewer)).json()["data"]
    assert cached["at"] == publisher.latest["at"]
    assert_error(await client.get("/api/v1/telemetry/snapshot"), 401)


async def test_snapshot_counts_workers_by_state(app: FastAPI) -> None:
    # Other tests leave workers in every state in the shared database, so the count is
    # compared before and after adding one in the rarest state (draining).
    before = (await runtime_of(app)[TELEMETRY].snapshot())["workers"].get("draining", 0)
    worker_id = unique("draining@")
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add(
            Worker(id=worker_id, host="h", pid=1, role="test", queues=["t"], status="draining")
        )
    try:
        after = (await runtime_of(app)[TELEMETRY].snapshot())["workers"].get("draining", 0)
        assert after == before + 1
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await session.execute(delete(Worker).where(Worker.id == worker_id))


async def test_running_job_progress_in_snapshot(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    job = await start_test_job(client, operator, count=10_000, delay=0.01)
    await wait_job(
        client, operator, job["id"], ("running",), predicate=lambda j: j["progress"]["done"] > 0
    )
    snap = await runtime_of(app)[TELEMETRY].snapshot()
    mine = next(j for j in snap["jobs"] if j["id"] == job["id"])
    assert mine["done"] > 0 and mine["total"] == 10_000
    await client.post(
        f"/api/v1/jobs/{job['id']}/control", json={"action": "cancel"}, headers=operator
    )
    await wait_job(client, operator, job["id"], ("cancelled",))


async def test_history_and_retention(client: httpx.AsyncClient, viewer: dict, app: FastAPI) -> None:
    await runtime_of(app)[TELEMETRY].tick(record=True)
    await runtime_of(app)[TELEMETRY].tick(record=True)
    resp = await client.get(
        "/api/v1/telemetry/history", params={"window": "10m", "step": "1s"}, headers=viewer
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["points"] >= 1 and len(data["series"]["t"]) == data["points"]
    assert len(data["series"]["queue_depth"]) == data["points"]
    assert_error(await client.get("/api/v1/telemetry/history?window=abc", headers=viewer), 422)
    assert_error(
        await client.get("/api/v1/telemetry/history?window=1m&step=1h", headers=viewer), 422
    )
    old = utcnow() - timedelta(hours=25)
    async with transaction(runtime_of(app).sessionmaker) as session:
        sample = TelemetrySample(source="old", created_at=old, data={"queue_depth": 0})
        session.add(sample)
        await session.flush()
        old_id = sample.id
    async with stored_section(app, "retention", {"telemetry_hours": 24}):
        await retention.prune(runtime_of(app))
    async with runtime_of(app).sessionmaker() as session:
        gone = await session.execute(select(TelemetrySample).where(TelemetrySample.id == old_id))
        assert gone.scalar() is None


async def test_stream_sends_snapshot_and_ends(
    client: httpx.AsyncClient, viewer: dict, app: FastAPI
) -> None:
    settings = runtime_of(app)[JOB_SETTINGS]
    old = settings.sse_max_seconds
    settings.sse_max_seconds = 1.0
    try:
        resp = await client.get("/api/v1/telemetry/stream", headers=viewer)
    finally:
        settings.sse_max_seconds = old
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert "event: snapshot" in resp.text and "event: reconnect" in resp.text
    assert_error(await client.get("/api/v1/telemetry/stream?topics=nope", headers=viewer), 422)
