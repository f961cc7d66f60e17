"""Waiting helpers for job tests (deadlines are upper bounds, never timing assertions)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

DEADLINE = 60.0


async def wait_job(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    job_id: str,
    statuses: tuple[str, ...],
    *,
    deadline: float = DEADLINE,
    predicate: Any = None,
) -> dict[str, Any]:
    """Poll a job until its status is one of `statuses` (and predicate(job) holds)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    job: dict[str, Any] = {}
    while loop.time() < end:
        resp = await client.get(f"/api/v1/jobs/{job_id}", headers=headers)
        assert resp.status_code == 200, resp.text
        job = resp.json()["data"]
        if job["status"] in statuses and (predicate is None or predicate(job)):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


async def start_test_job(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/jobs", json={"kind": "test", "params": params}, headers=headers
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["data"]["job"]  # type: ignore[no-any-return]
