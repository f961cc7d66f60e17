"""A kind's time limit: an attempt that runs past it fails at once, without a retry."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler
from foredeck.jobs.settings import JOB_SETTINGS, JobSettings
from foredeck.kit.runtime import runtime_of
from tests.jobs.helpers import wait_job

KIND = "test-time-limit"


@job_handler(KIND, queue="default", max_attempts=3, time_limit=0.5)
async def _slow(ctx: JobContext) -> dict[str, Any]:
    """Sleeps in steps far past its limit unless `quick` is set."""
    steps = 2 if (ctx.raw_params or {}).get("quick") else 600
    for _ in range(steps):
        await ctx.check()
        await asyncio.sleep(0.05)
    return {"steps": steps}


async def test_an_attempt_past_its_limit_fails_without_retry(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    kinds = (await client.get("/api/v1/jobs/kinds", headers=operator)).json()["data"]
    assert next(k for k in kinds if k["kind"] == KIND)["time_limit_seconds"] == 0.5
    quick = await client.post(
        "/api/v1/jobs", json={"kind": KIND, "params": {"quick": True}}, headers=operator
    )
    slow = await client.post("/api/v1/jobs", json={"kind": KIND, "params": {}}, headers=operator)
    assert quick.status_code == slow.status_code == 202, slow.text
    done = await wait_job(client, operator, quick.json()["data"]["job_id"], ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    job_id = slow.json()["data"]["job_id"]
    failed = await wait_job(client, operator, job_id, ("failed", "succeeded"))
    assert failed["status"] == "failed" and failed["attempts"] == 1, failed
    assert "time limit of 0.5 s" in failed["error"]
    runs = (await client.get(f"/api/v1/jobs/{job_id}/runs", headers=operator)).json()["data"]
    assert [r["status"] for r in runs] == ["failed"]


async def test_settings_override_a_kinds_limit(
    app: FastAPI, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    limits = runtime_of(app)[JOB_SETTINGS].job_time_limits
    limits[KIND] = 0.02
    try:
        kinds = (await client.get("/api/v1/jobs/kinds", headers=operator)).json()["data"]
        assert next(k for k in kinds if k["kind"] == KIND)["time_limit_seconds"] == 0.02
        # Two steps of 0.05 s fit the kind's own 0.5 s but not the configured 0.02 s.
        job = await client.post(
            "/api/v1/jobs", json={"kind": KIND, "params": {"quick": True}}, headers=operator
        )
        done = await wait_job(client, operator, job.json()["data"]["job_id"], ("failed",))
        assert done["attempts"] == 1 and "time limit of 0.02 s" in done["error"]
    finally:
        limits.pop(KIND, None)


def test_limits_must_be_positive() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="more than 0 seconds: export"):
        JobSettings(job_time_limits={"export": 0})
    assert JobSettings(job_time_limits={"export": 5}).time_limit("export", None) == 5
    assert JobSettings().time_limit("export", 7.0) == 7.0
