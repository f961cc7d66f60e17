"""A second pool on the same host takes its own worker id; stopped pools are forgotten in time."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Worker
from foredeck.schedules.handlers import sweep_by_settings
from foredeck.workers.embedded import EmbeddedExecutor
from foredeck.workers.identity import default_worker_id
from foredeck.workers.parts import EXECUTOR
from tests.conftest import unique
from tests.jobs.helpers import start_test_job, wait_job


async def test_second_pool_leaves_the_first_pools_jobs_and_row_alone(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    main = runtime_of(app)[EXECUTOR]
    assert main.worker_id == default_worker_id("embedded")
    job = await start_test_job(client, operator, count=400, delay=0.01)
    await wait_job(
        client,
        operator,
        job["id"],
        ("running",),
        predicate=lambda j: j["worker_id"] == main.worker_id and j["progress"]["done"] > 0,
    )
    second = EmbeddedExecutor(runtime_of(app), concurrency=1)
    await second.start()
    try:
        assert second.worker_id.startswith(main.worker_id + "-")
        # Its start-up recovery did not take the running job from the first pool.
        now = (await client.get(f"/api/v1/jobs/{job['id']}", headers=operator)).json()["data"]
        assert now["status"] == "running" and now["worker_id"] == main.worker_id
        assert now["attempts"] == 1
    finally:
        await second.stop()
    workers = {
        w["id"]: w["status"]
        for w in (await client.get("/api/v1/workers", headers=operator)).json()["data"]
    }
    # Its stop marked its own row, not the first pool's.
    assert workers[second.worker_id] == "stopped"
    assert workers[main.worker_id] in ("running", "paused", "draining")
    await client.post(
        f"/api/v1/jobs/{job['id']}/control", json={"action": "cancel"}, headers=operator
    )
    done = await wait_job(client, operator, job["id"], ("cancelled", "succeeded"))
    assert done["attempts"] == 1


async def test_retention_round_forgets_long_stopped_workers(app: FastAPI) -> None:
    now = utcnow()

    def worker(status: str, stopped_days: float | None, paused: bool = False) -> Worker:
        return Worker(
            id=unique("old@"),
            host="elsewhere",
            pid=1,
            role="embedded",
            queues=[],
            status=status,
            paused=paused,
            concurrency=1,
            processed=0,
            failed=0,
            running_jobs=0,
            started_at=now - timedelta(days=60),
            heartbeat_at=now - timedelta(days=45),
            stopped_at=None if stopped_days is None else now - timedelta(days=stopped_days),
            payload={},
        )

    rows = [
        worker("stopped", 45),
        worker("stopped", 1),
        worker("running", None),
        worker("stopped", 45, paused=True),
    ]
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add_all(rows)
    # retention.job_days is 30 by default.
    await sweep_by_settings(runtime_of(app))
    async with runtime_of(app).sessionmaker() as session:
        left = set(
            await session.scalars(select(Worker.id).where(Worker.id.in_([w.id for w in rows])))
        )
    assert left == {rows[1].id, rows[2].id, rows[3].id}
