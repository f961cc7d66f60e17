"""Index stats, rebuild (while searching), the index lock, deletes, and seed 002's listings."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI
from sqlalchemy import func

from foredeck.index import store
from foredeck.index.manager import safe_seq
from foredeck.index.parts import INDEX_MANAGER
from foredeck.index.vectors import VectorIndex
from foredeck.jobs.locks import operation_lock
from foredeck.kit.runtime import runtime_of
from foredeck.models.index import IndexChange
from tests.conftest import assert_error, unique
from tests.index.helpers import create, wait_embedded, wait_index_idle


async def wait_job(client: httpx.AsyncClient, headers: dict, job_id: str) -> dict:
    for _ in range(1200):
        job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()["data"]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


async def test_stats_fields(client: httpx.AsyncClient, viewer: dict) -> None:
    data = (await client.get("/api/v1/index", headers=viewer)).json()["data"]
    for key in (
        "vector_count",
        "pending_count",
        "bytes_on_disk",
        "index_type",
        "model",
        "dimension",
        "last_rebuild_at",
        "last_rebuild_seconds",
        "checksum",
        "status",
    ):
        assert key in data
    assert data["model"] == "static-64" and data["dimension"] == 64


async def test_rebuild_while_searching(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    coll = unique("rb")
    ids = await create(
        client, operator, coll, [f"rebuild subject {i} about lighthouses" for i in range(20)]
    )
    await wait_embedded(app, client, viewer, coll, 20)
    resp = await client.post("/api/v1/operations/index", headers=operator)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["data"]["job_id"]
    body = {"query": "lighthouses", "mode": "semantic", "collection": coll, "k": 20}
    searches = 0
    deadline = time.monotonic() + 120
    while True:
        got = await client.post("/api/v1/search", json=body, headers=viewer)
        assert got.status_code == 200, got.text
        assert {h["memory"]["id"] for h in got.json()["data"]["hits"]} == set(ids)
        searches += 1
        job = (await client.get(f"/api/v1/jobs/{job_id}", headers=viewer)).json()["data"]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"the rebuild did not finish: {job}"
    assert job["status"] == "succeeded", job
    assert job["result"]["vectors"] >= 20
    stats = (await client.get("/api/v1/index", headers=viewer)).json()["data"]
    assert stats["last_rebuild_at"] and stats["last_rebuild_seconds"] is not None
    assert stats["checksum"] == job["result"]["checksum"]
    # The swapped-in index serves at least what the rebuild wrote (nothing was deleted since).
    assert stats["vector_count"] >= job["result"]["vectors"]
    got = await client.post("/api/v1/search", json=body, headers=viewer)
    assert {h["memory"]["id"] for h in got.json()["data"]["hits"]} == set(ids)


async def test_rebuild_refused_while_index_locked(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    async with operation_lock(runtime_of(app), "index", holder=unique("holder")):
        resp = await client.post("/api/v1/operations/index", headers=operator)
        assert_error(resp, 409, "LOCK_HELD")


async def test_rebuild_needs_operator(client: httpx.AsyncClient, viewer: dict) -> None:
    assert_error(await client.post("/api/v1/operations/index", headers=viewer), 403)


async def test_deleting_a_record_removes_its_vector(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    coll = unique("del")
    ids = await create(client, operator, coll, ["the record that stays", "the record that goes"])
    await wait_embedded(app, client, viewer, coll, 2)
    manager = runtime_of(app)[INDEX_MANAGER]
    await client.get("/api/v1/index", headers=viewer)  # any read catches up with the log
    assert ids[1] in manager.vindex
    assert (await client.delete(f"/api/v1/memories/{ids[1]}", headers=operator)).status_code == 204
    await client.get("/api/v1/index", headers=viewer)  # any read catches up with the log
    assert ids[1] not in manager.vindex and ids[0] in manager.vindex


async def test_an_index_swap_waits_for_a_sync_in_progress(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    """A rebuilt index read before a delete is swapped in only between syncs, and the delete
    is then replayed into it (a swap inside a sync lost such a removal)."""
    await wait_index_idle(client, viewer)
    coll = unique("swap")
    ids = await create(client, operator, coll, ["a harbour at dawn", "a harbour at dusk"])
    await wait_embedded(app, client, viewer, coll, 2)
    manager, sessions = runtime_of(app)[INDEX_MANAGER], runtime_of(app).sessionmaker
    await manager.sync(sessions, force=True)
    async with sessions() as session:
        claimed = await safe_seq(session, int(await session.scalar(func.max(IndexChange.seq))))
    name, manifest = await asyncio.to_thread(
        store.write_generation, manager.root, manager.vindex, model=manager.model
    )
    stale = VectorIndex.read(manager.root / name)
    assert (await client.delete(f"/api/v1/memories/{ids[1]}", headers=operator)).status_code == 204
    await client.get("/api/v1/index", headers=viewer)
    assert ids[1] not in manager.vindex

    async with manager._lock:  # as a sync does while it replays
        swap = asyncio.create_task(
            manager.publish(
                sessions, name=name, manifest=manifest, vindex=stale, checkpoint_seq=claimed
            )
        )
        await asyncio.wait({swap}, timeout=1.0)
        assert not swap.done() and manager.vindex is not stale
    assert await swap
    await client.get("/api/v1/index", headers=viewer)
    assert manager.vindex is stale
    assert ids[1] not in manager.vindex and ids[0] in manager.vindex


async def test_changed_text_is_embedded_again(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    coll = unique("chg")
    [mid] = await create(client, operator, coll, ["volcanoes erupt with molten lava"])
    await wait_embedded(app, client, viewer, coll, 1)
    resp = await client.patch(
        f"/api/v1/memories/{mid}", json={"content": "glaciers carve valleys"}, headers=operator
    )
    assert resp.json()["data"]["embedding_state"] == "pending"
    await wait_embedded(app, client, viewer, coll, 1)
    body = {"query": "glaciers carve valleys", "mode": "semantic", "collection": coll}
    hits = (await client.post("/api/v1/search", json=body, headers=viewer)).json()["data"]["hits"]
    assert hits[0]["memory"]["id"] == mid and hits[0]["score"] > 0.99


async def test_rag_and_available_models(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    coll = unique("rag")
    await create(client, operator, coll, ["one", "two"])
    await wait_embedded(app, client, viewer, coll, 2)
    rag = (await client.get("/api/v1/rag", headers=viewer)).json()["data"]
    assert rag[0]["kind"] == "faiss" and rag[0]["collections"][coll] == 2
    models = (await client.get("/api/v1/available_models", headers=viewer)).json()["data"]
    by_name = {m["name"]: m for m in models}
    assert by_name["static-64"]["active"] and by_name["static-64"]["dimension"] == 64
    assert by_name["all-MiniLM-L6-v2"]["dimension"] == 384
    assert_error(await client.get("/api/v1/rag"), 401)


async def test_search_filters(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    coll = unique("flt")
    await create(
        client, operator, coll, ["apples in a basket"], memory_type="fact", metadata={"t": "a"}
    )
    await create(
        client, operator, coll, ["apples on a tree"], memory_type="note", metadata={"t": "b"}
    )
    await wait_embedded(app, client, viewer, coll, 2)
    for mode in ("semantic", "keyword", "hybrid"):
        base = f"/api/v1/search?q=apples&collection={coll}&mode={mode}"
        facts = (await client.get(f"{base}&memory_type=fact", headers=viewer)).json()["data"]
        assert [h["memory"]["content"] for h in facts["hits"]] == ["apples in a basket"], mode
        meta = (await client.get(f"{base}&metadata=t=b", headers=viewer)).json()["data"]
        assert [h["memory"]["content"] for h in meta["hits"]] == ["apples on a tree"], mode
        future = (
            await client.get(f"{base}&created_after=2999-01-01T00:00:00Z", headers=viewer)
        ).json()["data"]
        assert future["hits"] == [], mode
    assert_error(await client.get("/api/v1/search?q=a&metadata=novalue", headers=viewer), 422)


async def _start_rebuild(client: httpx.AsyncClient, operator: dict, viewer: dict) -> dict:
    """Start a rebuild. A changed index type also makes the next embed job queue one of its
    own (an earlier test's records may still be embedding): then wait for it and start ours."""
    for _ in range(20):
        resp = await client.post("/api/v1/operations/index", headers=operator)
        if resp.status_code != 409:
            assert resp.status_code == 202, resp.text
            return dict(resp.json()["data"])
        assert resp.json()["error"]["code"] == "LOCK_HELD", resp.text
        await wait_index_idle(client, viewer)
    raise AssertionError("the index lock stayed busy")


async def test_index_settings_choose_the_type(
    app: FastAPI, client: httpx.AsyncClient, admin: dict, operator: dict, viewer: dict
) -> None:
    coll = unique("hn")
    await create(client, operator, coll, ["settings decide the index type"])
    await wait_embedded(app, client, viewer, coll, 1)
    resp = await client.put(
        "/api/v1/settings/index", json={"type": "hnsw", "hnsw_m": 16}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    try:
        job = await _start_rebuild(client, operator, viewer)
        done = await wait_job(client, viewer, job["job_id"])
        assert done["status"] == "succeeded" and done["result"]["index_type"] == "hnsw"
        stats = (await client.get("/api/v1/index", headers=viewer)).json()["data"]
        assert stats["index_type"] == "hnsw"
        body = {"query": "settings decide", "mode": "semantic", "collection": coll}
        hits = (await client.post("/api/v1/search", json=body, headers=viewer)).json()["data"]
        assert len(hits["hits"]) == 1
    finally:
        await client.delete("/api/v1/settings/index", headers=admin)
        job = await _start_rebuild(client, operator, viewer)
        assert (await wait_job(client, viewer, job["job_id"]))["status"] == "succeeded"
    stats = (await client.get("/api/v1/index", headers=viewer)).json()["data"]
    assert stats["index_type"] == "flat"
