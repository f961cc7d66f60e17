"""Helpers for index and search tests: create records and wait until they are embedded."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from foredeck.embedding.parts import EMBED_WAKEUP
from foredeck.kit.runtime import runtime_of


async def create(
    client: httpx.AsyncClient, headers: dict, collection: str, contents: list[str], **extra: object
) -> list[int]:
    ids = []
    for content in contents:
        resp = await client.post(
            "/api/v1/memories",
            json={"content": content, "collection": collection, **extra},
            headers=headers,
        )
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["data"]["id"])
    return ids


async def wait_embedded(
    app: FastAPI, client: httpx.AsyncClient, headers: dict, collection: str, count: int
) -> None:
    """Poll (no timing assertion) until the collection's records are all embedded."""
    for _ in range(600):
        runtime_of(app)[EMBED_WAKEUP].set()
        resp = await client.get(
            f"/api/v1/memories?collection={collection}&embedding_state=embedded&per_page=1",
            headers=headers,
        )
        if resp.json()["meta"]["total"] >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{collection}: records were not embedded")


async def wait_index_idle(client: httpx.AsyncClient, headers: dict) -> None:
    """Poll until no job holds the index lock, nothing waits to be embedded and no embed job
    is still finishing: an earlier test's rebuild or re-embedding may still be changing the
    shared index, and an embed job's last step may queue a rebuild."""
    busy = {"kind": "embed", "status": ["queued", "running"]}
    for _ in range(1200):
        op = (await client.get("/api/v1/operations/index/status", headers=headers)).json()
        stats = (await client.get("/api/v1/index", headers=headers)).json()
        embeds = (await client.get("/api/v1/jobs", params=busy, headers=headers)).json()
        if (
            not op["data"]["lock"]["held"]
            and stats["data"]["pending_count"] == 0
            and not embeds["data"]
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the index did not become idle")
