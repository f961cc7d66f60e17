"""Scale-out shape: a second app on the same database and index folder sees every change.

Each app has its own in-memory index (as separate processes would); they meet only through
the database (vectors, change log, index_state) and the shared index folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from foredeck.app import create_app
from foredeck.config import Config
from foredeck.index.parts import INDEX_MANAGER
from foredeck.kit.runtime import runtime_of
from tests.conftest import unique
from tests.index.helpers import create, wait_embedded


@pytest.fixture(scope="module")
async def replica(config: Config) -> AsyncIterator[httpx.AsyncClient]:
    other = create_app(config.model_copy(update={"workers": 0}))
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as c:
            c.app = other  # type: ignore[attr-defined]
            yield c


async def test_replica_sees_adds_deletes_and_rebuilds(
    app: FastAPI,
    client: httpx.AsyncClient,
    replica: httpx.AsyncClient,
    operator: dict,
    viewer: dict,
) -> None:
    assert runtime_of(replica.app)[INDEX_MANAGER] is not runtime_of(app)[INDEX_MANAGER]  # type: ignore[attr-defined]
    coll = unique("rep")
    ids = await create(client, operator, coll, ["harbour cranes unload ships", "owls hunt at dusk"])
    await wait_embedded(app, client, viewer, coll, 2)
    body = {"query": "cranes unloading ships", "mode": "semantic", "collection": coll}
    hits = (await replica.post("/api/v1/search", json=body, headers=viewer)).json()["data"]
    assert hits["hits"][0]["memory"]["id"] == ids[0]

    assert (await client.delete(f"/api/v1/memories/{ids[0]}", headers=operator)).status_code == 204
    await replica.get("/api/v1/index", headers=viewer)
    manager = runtime_of(replica.app)[INDEX_MANAGER]  # type: ignore[attr-defined]
    assert ids[0] not in manager.vindex and ids[1] in manager.vindex

    # An earlier test's rebuild may still hold the index lock: wait for it, then start ours.
    for _ in range(600):
        resp = await client.post("/api/v1/operations/index", headers=operator)
        if resp.status_code != 409:
            break
        await asyncio.sleep(0.1)
    assert resp.status_code == 202, resp.text
    job = resp.json()["data"]
    from tests.index.test_index_ops import wait_job

    assert (await wait_job(client, viewer, job["job_id"]))["status"] == "succeeded"
    main_stats = (await client.get("/api/v1/index", headers=viewer)).json()["data"]
    replica_stats = (await replica.get("/api/v1/index", headers=viewer)).json()["data"]
    assert replica_stats["generation"] == main_stats["generation"]
    assert replica_stats["checksum"] == main_stats["checksum"]
    assert manager.folder == runtime_of(app)[INDEX_MANAGER].folder
    assert ids[1] in manager.vindex and ids[0] not in manager.vindex
