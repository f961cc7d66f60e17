"""task_executions lists worker reports and the runs of foredeck's own jobs together."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Job, JobRun
from tests.conftest import assert_error, unique

API = "/api/v1/task_executions"


async def _job_with_runs(app: FastAPI) -> tuple[str, list[int]]:
    job_id = str(uuid.uuid4())
    start = datetime(2026, 3, 1, tzinfo=UTC)
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add(Job(id=job_id, kind="test", status="failed", params={}))
        await session.flush()
        runs = [
            JobRun(
                job_id=job_id,
                attempt=1,
                worker_id="embedded-1",
                status="failed",
                started_at=start,
                finished_at=start + timedelta(seconds=2),
                duration_ms=2000,
                error="boom",
            ),
            JobRun(
                job_id=job_id,
                attempt=2,
                worker_id="embedded-1",
                status="succeeded",
                started_at=start + timedelta(seconds=3),
                finished_at=start + timedelta(seconds=4),
                duration_ms=1000,
                result={"count": 5},
            ),
        ]
        session.add_all(runs)
        await session.flush()
        return job_id, [r.id for r in runs]


async def test_job_runs_are_task_executions(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    job_id, run_ids = await _job_with_runs(app)
    listed = await client.get(f"{API}?job_id={job_id}&sort=started_at", headers=viewer)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["meta"]["total"] == 2
    first, second = body["data"]
    assert first["id"] == f"job-run-{run_ids[0]}" and first["source"] == "job"
    assert (first["status"], first["exit_code"], first["error"]) == ("failure", 1, "boom")
    assert (second["status"], second["exit_code"]) == ("success", 0)
    assert second["result_data"] == {"count": 5} and second["duration_ms"] == 1000
    assert second["worker_id"] == "embedded-1"
    got = await client.get(f"{API}/job-run-{run_ids[1]}", headers=viewer)
    assert got.status_code == 200 and got.json()["data"] == second
    # Runs belong to the job engine: readable here, never changed here.
    assert_error(
        await client.patch(
            f"{API}/job-run-{run_ids[1]}", json={"status": "error"}, headers=operator
        ),
        409,
        "READ_ONLY",
    )


async def test_worker_reports_and_job_runs_filter_apart(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    await _job_with_runs(app)
    worker = unique("w")
    resp = await client.post(
        API,
        json={
            "worker_id": worker,
            "started_at": "2026-03-02T00:00:00Z",
            "finished_at": "2026-03-02T00:00:01Z",
            "duration_ms": 1000,
            "exit_code": 0,
            "result_data": {"verdict": "ok"},
            "status": "success",
        },
        headers=operator,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["data"]["source"] == "worker"
    mine = (await client.get(f"{API}?worker_id={worker}", headers=operator)).json()
    assert mine["meta"]["total"] == 1 and mine["data"][0]["result_data"] == {"verdict": "ok"}
    jobs_only = (await client.get(f"{API}?source=job&per_page=200", headers=operator)).json()
    assert jobs_only["data"] and all(r["source"] == "job" for r in jobs_only["data"])
    assert_error(await client.get(f"{API}/job-run-999999999", headers=operator), 404)
