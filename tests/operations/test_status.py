"""Operation status for polling clients, and lock contention between import, export, rebuild."""

from __future__ import annotations

import asyncio
import os
import time
from contextlib import AsyncExitStack

import httpx
from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.jobs import controls as job_controls
from foredeck.jobs.locks import LockHeld, operation_lock
from foredeck.kit.runtime import runtime_of
from foredeck.operations.lifecycle import sweep
from tests.conftest import assert_error, unique
from tests.operations.helpers import (
    import_and_cancel,
    import_path,
    run_export,
    run_import,
    wait_job,
)


async def test_second_import_is_refused_while_one_is_queued(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, viewer: dict
) -> None:
    coll = unique("lock")
    path = import_path(app, f"{coll}.csv")
    path.write_text("content\none\ntwo\n")
    async with transaction(runtime_of(app).sessionmaker) as session:
        await job_controls.pause_queue(session, "operations")
    try:
        first = await client.post(
            "/api/v1/operations/import",
            json={"path": path.name, "collection": coll},
            headers=operator,
        )
        assert first.status_code == 202, first.text
        first_id = first.json()["data"]["job_id"]
        second = await client.post(
            "/api/v1/operations/import",
            json={"path": path.name, "collection": coll},
            headers=operator,
        )
        err = assert_error(second, 409, "LOCK_HELD")
        assert first_id in err["message"]
        status = (await client.get("/api/v1/operations/import/status", headers=viewer)).json()
        data = status["data"]
        assert data["lock"]["held"] and data["lock"]["holder_job_id"] == first_id
        assert data["running"] and data["latest"]["job_id"] == first_id
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await job_controls.resume_queue(session, "operations")
    job = await wait_job(client, operator, first_id)
    assert job["status"] == "succeeded"
    status = (await client.get("/api/v1/operations/import/status", headers=viewer)).json()["data"]
    assert not status["lock"]["held"] and not status["running"]
    last = status["last_finished"]
    assert last["job_id"] == first_id and last["outcome"] == "succeeded"
    assert last["initiated_by"].startswith("operator") and last["duration_s"] >= 0
    assert last["result"]["inserted"] == 2
    third = await run_import(client, operator, path=path.name, collection=coll)
    assert third["result"]["unchanged"] == 2


async def hold(stack: AsyncExitStack, app: FastAPI, name: str, holder: str) -> None:
    """Take a lock for the test, waiting while a real job has it (e.g. an automatic rebuild)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 120
    while True:
        try:
            await stack.enter_async_context(operation_lock(runtime_of(app), name, holder=holder))
            return
        except LockHeld:
            if loop.time() > end:
                raise
            await asyncio.sleep(0.1)


async def test_locks_are_per_operation(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, viewer: dict
) -> None:
    coll = unique("per")
    path = import_path(app, f"{coll}.csv")
    path.write_text("content\nhello\n")
    async with AsyncExitStack() as index_lock:
        await hold(index_lock, app, "index", "test: rebuild stand-in")
        rebuild = await client.post("/api/v1/operations/index", headers=operator)
        assert_error(rebuild, 409, "LOCK_HELD")
        status = (await client.get("/api/v1/operations/index/status", headers=viewer)).json()
        assert status["data"]["lock"]["holder"] == "test: rebuild stand-in"
        # an import and an export do not wait for the index
        await run_import(client, operator, path=path.name, collection=coll)
        async with AsyncExitStack() as export_lock:
            await hold(export_lock, app, "export", "test: exporter")
            blocked = await client.post(
                "/api/v1/operations/export",
                json={"format": "csv", "collection": coll},
                headers=operator,
            )
            assert "exporter" in assert_error(blocked, 409, "LOCK_HELD")["message"]
            async with AsyncExitStack() as import_lock:
                await hold(import_lock, app, "import", "test: importer")
                refused = await client.post(
                    "/api/v1/operations/import",
                    json={"path": path.name, "collection": coll},
                    headers=operator,
                )
                assert_error(refused, 409, "LOCK_HELD")
        await run_export(client, operator, format="jsonl", collection=coll)
    assert_error(await client.get("/api/v1/operations/nope/status", headers=viewer), 422)


async def test_export_retention_removes_old_files(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, viewer: dict
) -> None:
    coll = unique("ret")
    path = import_path(app, f"{coll}.csv")
    path.write_text("content\nkept for a while\n")
    await run_import(client, operator, path=path.name, collection=coll)
    job, _ = await run_export(client, operator, format="csv", collection=coll)
    folder = runtime_of(app).config.path("exports") / job["id"]
    old = time.time() - 30 * 86400
    os.utime(folder, (old, old))
    removed = await sweep(runtime_of(app))
    assert job["id"] in removed
    gone = await client.get(f"/api/v1/jobs/{job['id']}/download", headers=viewer)
    assert "retention" in assert_error(gone, 404)["message"]


async def test_cancelled_import_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict
) -> None:
    coll = unique("cancel")
    await import_and_cancel(client, app, admin, operator, coll)
    listing = await client.get(f"/api/v1/memories?collection={coll}", headers=operator)
    assert listing.json()["meta"]["total"] == 0
