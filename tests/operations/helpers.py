"""Helpers for operations tests: files in the import dir, starting jobs, waiting for them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.settings import service as settings_service

TERMINAL = ("succeeded", "failed", "cancelled")
DEADLINE = 120.0


def import_path(app: FastAPI, name: str) -> Path:
    path = runtime_of(app).config.path("imports") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def wait_job(
    client: httpx.AsyncClient, headers: dict[str, str], job_id: str, deadline: float = DEADLINE
) -> dict[str, Any]:
    """Poll until the job ends (the deadline is an upper bound, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    job: dict[str, Any] = {}
    while loop.time() < end:
        resp = await client.get(f"/api/v1/jobs/{job_id}", headers=headers)
        assert resp.status_code == 200, resp.text
        job = resp.json()["data"]
        if job["status"] in TERMINAL:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


async def run_import(
    client: httpx.AsyncClient, headers: dict[str, str], expect: str = "succeeded", **params: Any
) -> dict[str, Any]:
    resp = await client.post("/api/v1/operations/import", json=params, headers=headers)
    assert resp.status_code == 202, resp.text
    job = await wait_job(client, headers, resp.json()["data"]["job_id"])
    assert job["status"] == expect, job
    return job


async def run_export(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> tuple[dict[str, Any], bytes]:
    resp = await client.post("/api/v1/operations/export", json=params, headers=headers)
    assert resp.status_code == 202, resp.text
    job = await wait_job(client, headers, resp.json()["data"]["job_id"])
    assert job["status"] == "succeeded", job
    if params.get("format") == "sheet":
        return job, b""
    download = await client.get(f"/api/v1/jobs/{job['id']}/download", headers=headers)
    assert download.status_code == 200, download.text
    return job, download.content


async def records(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        resp = await client.get(
            f"/api/v1/memories?collection={collection}&per_page=200&page={page}&sort=id",
            headers=headers,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out.extend(body["data"])
        if page >= body["meta"]["total_pages"]:
            return out
        page += 1


async def import_and_cancel(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: dict[str, str],
    operator: dict[str, str],
    coll: str,
    *,
    after_rows: int = 0,
) -> dict[str, Any]:
    """Import 100,000 rows in batches of 100 and cancel once `after_rows` are read."""
    path = import_path(app, f"{coll}.csv")
    path.write_text("content\n" + "".join(f"row {i}\n" for i in range(100_000)))
    put = await client.put("/api/v1/settings/operations", json={"batch_size": 100}, headers=admin)
    assert put.status_code == 200, put.text
    try:
        resp = await client.post(
            "/api/v1/operations/import",
            json={"path": path.name, "collection": coll},
            headers=operator,
        )
        job_id = resp.json()["data"]["job_id"]
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        while loop.time() < end:
            job = (await client.get(f"/api/v1/jobs/{job_id}", headers=operator)).json()["data"]
            started = job["status"] != "queued" and not after_rows
            if job["progress"]["done"] > after_rows or started:
                break
            await asyncio.sleep(0.02)
        cancel = await client.post(
            f"/api/v1/jobs/{job_id}/control", json={"action": "cancel"}, headers=operator
        )
        assert cancel.status_code == 200, cancel.text
        job = await wait_job(client, operator, job_id)
        assert job["status"] == "cancelled", job
        return job
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await settings_service.delete_section(session, "operations")
