"""`/metrics`: parsed with prometheus_client's text parser; the families are there and move
when requests are made; a scrape reads the telemetry snapshot, not the jobs table."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, text

from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of
from foredeck.telemetry.parts import TELEMETRY
from tests.jobs.helpers import start_test_job, wait_job


async def scrape(client: httpx.AsyncClient) -> dict[str, Any]:
    resp = await client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(resp.text)}


def sample(families: dict[str, Any], family: str, name: str, **labels: str) -> float:
    """One sample's value (0 when that label set has not been seen yet)."""
    for s in families[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    return 0.0


async def test_families_exist_and_move(client: httpx.AsyncClient, operator: dict) -> None:
    before = await scrape(client)
    for name in (
        "foredeck_http_requests",
        "foredeck_http_request_duration_seconds",
        "foredeck_sse_clients",
        "foredeck_rate_limited_requests",
        "foredeck_pending_embeddings",
        "foredeck_index_vectors",
        "foredeck_index_last_rebuild_timestamp_seconds",
        "foredeck_jobs",
        "foredeck_queue_depth",
        "foredeck_workers",
        "foredeck_job_duration_seconds",
        "process_resident_memory_bytes",
        "process_cpu_seconds",
        "python_info",
        "python_gc_collections",
    ):
        assert name in before, name
    assert before["foredeck_http_requests"].type == "counter"
    assert before["foredeck_http_request_duration_seconds"].type == "histogram"
    info = {"method": "GET", "route": "/api/v1/info", "status": "200"}
    missing = {"method": "GET", "route": "/api/v1/jobs/{job_id}", "status": "404"}
    for _ in range(3):
        assert (await client.get("/api/v1/info")).status_code == 200
    assert (await client.get("/api/v1/jobs/nope", headers=operator)).status_code == 404
    assert (await client.get("/no/such/path/42")).status_code == 404
    job = await start_test_job(client, operator, count=1, delay=0)
    await wait_job(client, operator, job["id"], ("succeeded",))
    after = await scrape(client)

    def moved(family: str, name: str, **labels: str) -> float:
        return sample(after, family, name, **labels) - sample(before, family, name, **labels)

    assert moved("foredeck_http_requests", "foredeck_http_requests_total", **info) == 3
    hist = "foredeck_http_request_duration_seconds"
    assert moved(hist, f"{hist}_count", **info) == 3
    assert moved(hist, f"{hist}_bucket", le="+Inf", **info) == 3
    assert moved("foredeck_http_requests", "foredeck_http_requests_total", **missing) == 1
    # An unmatched path is one label, not one per path a client makes up.
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert moved("foredeck_http_requests", "foredeck_http_requests_total", **unmatched) >= 1
    assert not any("/no/such" in s.labels.get("route", "") for s in after[hist].samples)
    done = {"kind": "test", "status": "succeeded"}
    jobs_hist = "foredeck_job_duration_seconds"
    assert moved(jobs_hist, f"{jobs_hist}_count", **done) == 1
    assert {s.labels["status"] for s in after["foredeck_workers"].samples} == {
        "running",
        "paused",
        "draining",
        "stopped",
        "stale",
    }
    assert {s.labels["status"] for s in after["foredeck_jobs"].samples} == {
        "queued",
        "running",
        "paused",
        "cancelling",
    }


async def test_sse_clients_gauge_follows_open_streams(
    client: httpx.AsyncClient, viewer: dict, app: FastAPI
) -> None:
    gauge = "foredeck_sse_clients"
    base = sample(await scrape(client), gauge, gauge)
    settings = runtime_of(app)[JOB_SETTINGS]
    old = settings.sse_max_seconds
    settings.sse_max_seconds = 3.0
    try:
        stream = asyncio.create_task(client.get("/api/v1/telemetry/stream", headers=viewer))
        deadline = time.monotonic() + 30
        seen = base
        while seen == base and not stream.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            seen = sample(await scrape(client), gauge, gauge)
        assert seen == base + 1
        assert (await stream).status_code == 200
    finally:
        settings.sse_max_seconds = old
    assert sample(await scrape(client), gauge, gauge) == base


async def test_scrape_reads_the_snapshot_not_the_jobs_table(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    publisher = runtime_of(app)[TELEMETRY]
    snap = await publisher.snapshot()
    statements: list[str] = []
    # Only the scrape's own statements: workers, schedules and leases poll the same engine
    # meanwhile, but they run in tasks started before this context variable was set.
    scraping: contextvars.ContextVar[bool] = contextvars.ContextVar("scraping", default=False)

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if scraping.get():
            statements.append(statement.lower())

    engine = runtime_of(app).engine.sync_engine
    # The snapshot just taken counts as current for the whole scrape, however slow it is.
    publisher.latest_at = time.monotonic() + 3600
    event.listen(engine, "before_cursor_execute", seen)
    token = scraping.set(True)
    try:
        async with runtime_of(app).sessionmaker() as session:
            await session.execute(text("select 'probe'"))
        # The filter sees this task's statements, so it would see the scrape's too.
        assert statements == ["select 'probe'"]
        families = await scrape(client)
    finally:
        scraping.reset(token)
        event.remove(engine, "before_cursor_execute", seen)
        publisher.latest_at = 0.0
    assert not [s for s in statements if " jobs" in s or "group by" in s], statements
    queued = sum(q["queued"] for q in snap["queues"].values())
    assert sample(families, "foredeck_jobs", "foredeck_jobs", status="queued") == queued
    pending = sample(families, "foredeck_pending_embeddings", "foredeck_pending_embeddings")
    assert pending == snap["pending_embeddings"]
