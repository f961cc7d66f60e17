"""`POST /api/v1/jobs/batch`: many jobs in one transaction, all of them or none."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Job
from tests.conftest import assert_error, unique
from tests.jobs.helpers import wait_job


async def _count(app: FastAPI, queue: str) -> int:
    async with runtime_of(app).sessionmaker() as session:
        found = await session.execute(
            select(func.count()).select_from(Job).where(Job.queue == queue)
        )
        return int(found.scalar_one())


async def test_a_batch_is_queued_together_and_runs(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    queue = unique("batch")
    jobs = [
        {"kind": "test", "params": {"count": 2, "delay": 0}, "queue": queue, "priority": i}
        for i in range(5)
    ]
    jobs.append({"kind": "noop", "queue": queue})
    resp = await client.post("/api/v1/jobs/batch", json={"jobs": jobs}, headers=operator)
    assert resp.status_code == 202, resp.text
    made = resp.json()["data"]
    assert [m["job"]["kind"] for m in made] == ["test"] * 5 + ["noop"]
    assert [m["job"]["priority"] for m in made[:5]] == [0, 1, 2, 3, 4]
    assert all(m["status"] == "queued" and m["job"]["queue"] == queue for m in made)
    assert made[0]["job"]["created_by"] is not None
    for m in made:
        done = await wait_job(client, operator, m["job_id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded", done
        events = (
            await client.get(f"/api/v1/jobs/{m['job_id']}/events/history", headers=operator)
        ).json()["data"]
        statuses = [e["data"]["status"] for e in events if e["kind"] == "status"]
        assert statuses == ["queued", "running", "succeeded"], statuses
    assert await _count(app, queue) == 6


async def test_one_bad_item_names_itself_and_queues_nothing(
    client: httpx.AsyncClient, operator: dict, app: FastAPI
) -> None:
    queue = unique("batch")
    good = {"kind": "test", "params": {"count": 1, "delay": 0}, "queue": queue}
    err = assert_error(
        await client.post(
            "/api/v1/jobs/batch",
            json={
                "jobs": [
                    good,
                    {"kind": "test", "params": {"count": -1}, "queue": queue},
                    good,
                    {"kind": "nope", "queue": queue},
                ]
            },
            headers=operator,
        ),
        422,
    )
    fields = {d["field"] for d in err["details"]}
    assert {"jobs.1.params.count", "jobs.3.kind"} <= fields, fields
    assert await _count(app, queue) == 0
    # The body's own shape: an empty batch, a batch past the limit, an unknown field.
    for body in (
        {"jobs": []},
        {"jobs": [good] * 1001},
        {"jobs": [{**good, "extra": 1}]},
        {"jobs": good},
    ):
        assert_error(await client.post("/api/v1/jobs/batch", json=body, headers=operator), 422)
    assert await _count(app, queue) == 0


async def test_lock_conflicts_refuse_the_whole_batch(
    client: httpx.AsyncClient, operator: dict, viewer: dict, app: FastAPI
) -> None:
    queue, lock = unique("batch"), unique("lk")
    locked = {"kind": "test", "params": {"count": 1, "delay": 0, "lock": lock}, "queue": queue}
    free = {"kind": "test", "params": {"count": 1, "delay": 0}, "queue": queue}
    # Two items of one batch taking the same lock: the second could only wait for the first.
    err = assert_error(
        await client.post(
            "/api/v1/jobs/batch", json={"jobs": [locked, free, locked]}, headers=operator
        ),
        409,
    )
    assert err["code"] == "LOCK_HELD" and "jobs.0" in err["message"] and "jobs.2" in err["message"]
    assert await _count(app, queue) == 0

    # A lock held by a job already running: 409 naming it, and the free item is not queued.
    holder = await client.post(
        "/api/v1/jobs",
        json={"kind": "test", "params": {"count": 200, "delay": 0.05, "lock": lock}},
        headers=operator,
    )
    holder_id = holder.json()["data"]["job_id"]
    try:
        err = assert_error(
            await client.post(
                "/api/v1/jobs/batch", json={"jobs": [free, locked]}, headers=operator
            ),
            409,
        )
        assert holder_id in err["message"]
        assert await _count(app, queue) == 0
        assert_error(
            await client.post("/api/v1/jobs/batch", json={"jobs": [free]}, headers=viewer), 403
        )
    finally:
        await client.post(
            f"/api/v1/jobs/{holder_id}/control", json={"action": "cancel"}, headers=operator
        )
        await wait_job(client, operator, holder_id, ("cancelled", "succeeded", "failed"))
