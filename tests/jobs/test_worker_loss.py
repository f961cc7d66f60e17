"""A lost worker (no heartbeat within the lease) costs the job nothing: the attempt is given
back, the job resumes from its checkpoint on another worker, and only a job that loses its
worker again and again is failed, with that reason. Each lost attempt shows in its runs."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from foredeck.db import transaction
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from foredeck.workers.runner import JobRunner
from tests.console.helpers import console_client
from tests.jobs.helpers import wait_job


async def _expire_and_recover(app: FastAPI, runner: JobRunner, job_id: str) -> None:
    """Let the job's lease run out, then run the recovery sweep, in one transaction."""
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        assert await runner.recover(session) >= 1


async def _job(client: httpx.AsyncClient, headers: dict, job_id: str) -> dict:
    resp = await client.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def _count_job(
    client: httpx.AsyncClient, headers: dict, *, count: int, delay: float, attempts: int
) -> str:
    resp = await client.post(
        "/api/v1/jobs",
        json={
            "kind": "test",
            "params": {"count": count, "delay": delay},
            "max_attempts": attempts,
        },
        headers=headers,
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["data"]["job"]["id"]  # type: ignore[no-any-return]


async def _runs(client: httpx.AsyncClient, headers: dict, job_id: str) -> list[dict]:
    resp = await client.get(f"/api/v1/jobs/{job_id}/runs", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def test_lost_worker_does_not_spend_the_only_attempt(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, main_worker_paused: None
) -> None:
    # One attempt, as imports, exports and rebuilds have: a loss must not use it up.
    job_id = await _count_job(client, operator, count=400, delay=0.01, attempts=1)
    a, b = JobRunner(runtime_of(app), "loss-a"), JobRunner(runtime_of(app), "loss-b")
    claimed = await a.claim(limit=1, job_id=job_id)
    assert claimed
    task_a = asyncio.create_task(a.execute(claimed[0]))
    running = await wait_job(
        client, operator, job_id, ("running",), predicate=lambda j: j["progress"]["done"] > 5
    )
    await _expire_and_recover(app, a, job_id)
    requeued = await _job(client, operator, job_id)
    assert requeued["status"] == "queued" and requeued["attempts"] == 0
    assert requeued["worker_id"] is None and requeued["error"] is None
    assert await asyncio.wait_for(task_a, 60) == "lost"

    claimed_b = await b.claim(limit=1, job_id=job_id)
    assert claimed_b and claimed_b[0].attempt == 1
    assert await asyncio.wait_for(b.execute(claimed_b[0]), 60) == "succeeded"
    done = await _job(client, operator, job_id)
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert done["worker_id"] == "loss-b"
    # It went on from its checkpoint rather than counting again from zero.
    assert done["result"]["resumed_from"] >= running["progress"]["done"] - 1
    runs = await _runs(client, operator, job_id)
    assert [(r["worker_id"], r["status"], r["attempt"]) for r in runs] == [
        ("loss-a", "lost", 1),
        ("loss-b", "succeeded", 1),
    ]
    assert "no heartbeat within the job lease (loss 1 of 3)" in runs[0]["error"]
    events = (await client.get(f"/api/v1/jobs/{job_id}/events/history", headers=operator)).json()
    lost = [e for e in events["data"] if e["message"] == "worker lost"]
    assert [(e["data"]["status"], e["data"]["losses"]) for e in lost] == [("queued", 1)]


async def test_third_loss_fails_the_job_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, main_worker_paused: None
) -> None:
    # Plenty of attempts left: only the losses end it, so it cannot loop forever.
    job_id = await _count_job(client, operator, count=5, delay=0, attempts=10)
    for n in (1, 2, 3):
        runner = JobRunner(runtime_of(app), f"crashy-{n}")
        # Claimed and never executed: like a worker killed right after taking the job.
        assert await runner.claim(limit=1, job_id=job_id)
        await _expire_and_recover(app, runner, job_id)
        job = await _job(client, operator, job_id)
        if n < 3:
            assert job["status"] == "queued" and job["attempts"] == 0, job
    assert job["status"] == "failed"
    assert job["error"] == "Worker lost 3 times: no heartbeat within the job lease"
    assert job["finished_at"] is not None
    runs = await _runs(client, operator, job_id)
    assert [(r["worker_id"], r["status"]) for r in runs] == [
        ("crashy-1", "lost"),
        ("crashy-2", "lost"),
        ("crashy-3", "lost"),
    ]
    assert [r["error"][-13:] for r in runs] == ["(loss 1 of 3)", "(loss 2 of 3)", "(loss 3 of 3)"]
    # A failed job is not claimable again.
    assert not await JobRunner(runtime_of(app), "crashy-4").claim(limit=1, job_id=job_id)
    # The console's job page lists the lost attempts with their reason.
    console, _ = await console_client(app, "viewer")
    async with aclosing(console):
        page = await console.get(f"/ui/jobs/{job_id}")
    assert page.status_code == 200
    for n in (1, 2, 3):
        assert f"crashy-{n}" in page.text and f"(loss {n} of 3)" in page.text
    assert "Worker lost 3 times" in page.text


async def test_loss_limit_is_configurable(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, main_worker_paused: None
) -> None:

    strict = runtime_of(app)[JOB_SETTINGS].model_copy(update={"job_max_worker_losses": 1})
    state = runtime_of(app).replaced(JOB_SETTINGS, strict)
    job_id = await _count_job(client, operator, count=5, delay=0, attempts=3)
    runner = JobRunner(state, "strict-loss")
    assert await runner.claim(limit=1, job_id=job_id)
    await _expire_and_recover(app, runner, job_id)
    job = await _job(client, operator, job_id)
    assert job["status"] == "failed" and job["error"].startswith("Worker lost 1 time: ")
