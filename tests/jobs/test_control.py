"""Pause, resume, cancel and retry of real jobs; retries with backoff; control state errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error
from tests.jobs.helpers import start_test_job, wait_job


@pytest.fixture
def fast_retries(app: FastAPI) -> Iterator[None]:
    settings = runtime_of(app)[JOB_SETTINGS]
    old = settings.job_retry_base_seconds
    settings.job_retry_base_seconds = 0.05
    yield
    settings.job_retry_base_seconds = old


async def control(client: httpx.AsyncClient, headers: dict, job_id: str, action: str) -> dict:
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/control", json={"action": action}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def test_pause_resume_cancel_running_job(client: httpx.AsyncClient, operator: dict) -> None:
    job = await start_test_job(client, operator, count=10_000, delay=0.01)
    await wait_job(
        client, operator, job["id"], ("running",), predicate=lambda j: j["progress"]["done"] > 0
    )
    assert (await control(client, operator, job["id"], "pause"))["status"] == "paused"
    # Paused at a check point: progress stops moving.
    paused = await wait_job(client, operator, job["id"], ("paused",))
    # The worker writes the paused event when it reaches its check point.
    kinds: set[str] = set()
    after = 0
    for _ in range(200):
        batch = (
            await client.get(
                f"/api/v1/jobs/{job['id']}/events/history?after={after}&limit=1000",
                headers=operator,
            )
        ).json()["data"]
        kinds |= {e["kind"] for e in batch}
        after = batch[-1]["id"] if batch else after
        if "paused" in kinds:
            break
        await asyncio.sleep(0.05)
    assert "paused" in kinds, kinds
    first = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
    await asyncio.sleep(0.3)
    second = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
    assert first["progress"]["done"] == second["progress"]["done"]
    assert paused["worker_id"]
    assert (await control(client, operator, job["id"], "resume"))["status"] == "running"
    await wait_job(
        client,
        operator,
        job["id"],
        ("running",),
        predicate=lambda j: j["progress"]["done"] > second["progress"]["done"],
    )
    assert (await control(client, operator, job["id"], "cancel"))["status"] == "cancelling"
    done = await wait_job(client, operator, job["id"], ("cancelled",))
    assert done["finished_at"] and done["progress"]["done"] < 10_000
    runs = (await client.get(f"/api/v1/jobs/{job['id']}/runs", headers=operator)).json()["data"]
    assert runs[-1]["status"] == "cancelled"


async def test_control_that_does_not_fit_is_409(client: httpx.AsyncClient, operator: dict) -> None:
    job = await start_test_job(client, operator, count=1, delay=0)
    await wait_job(client, operator, job["id"], ("succeeded",))
    for action in ("resume", "pause", "cancel", "retry"):
        err = assert_error(
            await client.post(
                f"/api/v1/jobs/{job['id']}/control", json={"action": action}, headers=operator
            ),
            409,
            "INVALID_JOB_STATE",
        )
        assert "succeeded" in err["message"]
    assert_error(
        await client.post(
            f"/api/v1/jobs/{job['id']}/control", json={"action": "explode"}, headers=operator
        ),
        422,
    )


async def test_pause_and_cancel_queued_job(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    from foredeck.db import transaction
    from foredeck.jobs import controls as job_controls

    queue = "q-hold"
    async with transaction(runtime_of(app).sessionmaker) as session:
        await job_controls.pause_queue(session, queue)
    try:
        resp = await client.post(
            "/api/v1/jobs",
            json={"kind": "test", "params": {"count": 1, "delay": 0}, "queue": queue},
            headers=operator,
        )
        job = resp.json()["data"]["job"]
        await asyncio.sleep(0.3)
        assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"][
            "status"
        ] == "queued"
        assert (await control(client, operator, job["id"], "pause"))["status"] == "paused"
        assert (await control(client, operator, job["id"], "resume"))["status"] == "queued"
        assert (await control(client, operator, job["id"], "cancel"))["status"] == "cancelled"
        again = await control(client, operator, job["id"], "retry")
        assert again["status"] == "queued"
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await job_controls.resume_queue(session, queue)
    await wait_job(client, operator, job["id"], ("succeeded",))


async def test_failed_attempts_retry_with_backoff(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    settings = runtime_of(app)[JOB_SETTINGS]
    old, settings.job_retry_base_seconds = settings.job_retry_base_seconds, 0.4
    try:
        job = await start_test_job(client, operator, count=2, delay=0, fail_attempts=2)
        done = await wait_job(client, operator, job["id"], ("succeeded", "failed"))
    finally:
        settings.job_retry_base_seconds = old
    assert done["status"] == "succeeded" and done["attempts"] == 3
    runs = (await client.get(f"/api/v1/jobs/{job['id']}/runs", headers=operator)).json()["data"]
    assert [r["status"] for r in runs] == ["failed", "failed", "succeeded"]
    assert "on purpose" in runs[0]["error"]
    events = (
        await client.get(f"/api/v1/jobs/{job['id']}/events/history?limit=1000", headers=operator)
    ).json()["data"]
    delays = [e["data"]["retry_in"] for e in events if "retry_in" in e["data"]]
    # Exponential from the base (0.4 s, then 0.8 s), each with +-25 % jitter.
    assert len(delays) == 2
    assert 0.3 <= delays[0] <= 0.5 and 0.6 <= delays[1] <= 1.0, delays
    # Each retry waited at least its delay (a lower bound only: a slow machine waits longer).
    for failed, retried, delay in zip(runs, runs[1:], delays, strict=False):
        gap = datetime.fromisoformat(retried["started_at"]) - datetime.fromisoformat(
            failed["finished_at"]
        )
        assert gap.total_seconds() >= delay - 0.05, (gap, delay)


async def test_exhausted_attempts_fail_then_retry_action(
    client: httpx.AsyncClient, operator: dict, fast_retries: None
) -> None:
    resp = await client.post(
        "/api/v1/jobs",
        json={
            "kind": "test",
            "params": {"count": 1, "delay": 0, "fail_attempts": 1},
            "max_attempts": 1,
        },
        headers=operator,
    )
    job = resp.json()["data"]["job"]
    failed = await wait_job(client, operator, job["id"], ("failed",))
    assert "RuntimeError" in failed["error"] and "Traceback" in failed["error_traceback"]
    # A retry starts a fresh cycle of attempts (so it fails the same way) and is recorded.
    assert (await control(client, operator, job["id"], "retry"))["status"] == "queued"
    await wait_job(
        client, operator, job["id"], ("failed",), predicate=lambda j: j["finished_at"] is not None
    )
    runs = (await client.get(f"/api/v1/jobs/{job['id']}/runs", headers=operator)).json()["data"]
    assert [r["status"] for r in runs] == ["failed", "failed"]
    # The worker lives on.
    ok = await start_test_job(client, operator, count=1, delay=0)
    assert (await wait_job(client, operator, ok["id"], ("succeeded",)))["status"] == "succeeded"


async def test_bulk_cancel(client: httpx.AsyncClient, operator: dict) -> None:
    jobs = [await start_test_job(client, operator, count=10_000, delay=0.01) for _ in range(3)]
    ids = [j["id"] for j in jobs]
    resp = await client.post(
        "/api/v1/jobs/bulk", json={"action": "cancel", "ids": [*ids, "missing"]}, headers=operator
    )
    body = resp.json()["data"]
    assert resp.status_code == 200, resp.text
    assert sorted(body["changed"]) == sorted(ids) and body["skipped"][0]["id"] == "missing"
    for job_id in ids:
        await wait_job(client, operator, job_id, ("cancelled",))
    assert_error(
        await client.post("/api/v1/jobs/bulk", json={"action": "cancel"}, headers=operator), 422
    )
