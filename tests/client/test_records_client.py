"""Records through foredeck.client over real HTTP: the MemoryOut the API writes as JSON
(`metadata`) is read back by the same contract that reads the ORM row (`metadata_`)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from foredeck.client import AsyncClient, Client
from foredeck.contracts import MemoryCreate, MemoryOut, MemoryUpdate, SearchRequest
from tests.client.test_client import _key
from tests.conftest import unique
from tests.index.helpers import wait_embedded


async def test_records_round_trip_over_http(
    app: FastAPI, live_url: str, client: httpx.AsyncClient, operator: dict
) -> None:
    key = await _key(client, operator)
    collection = unique("rec")
    meta = {"topic": "sea", "depth": 12, "tags": ["tide", "harbour"]}
    async with AsyncClient(live_url, key) as fd:
        made = await fd.create_memory(
            MemoryCreate(
                content="harbour lights at dusk",
                collection=collection,
                metadata=meta,
                external_id="h1",
            )
        )
        assert isinstance(made, MemoryOut) and made.metadata == meta
        got = await fd.get_memory(made.id)
        assert got == made
        changed = await fd.update_memory(made.id, MemoryUpdate(metadata={"topic": "port"}))
        assert changed.metadata == {"topic": "port"} and changed.content == made.content
        page = await fd.list_memories(collection=collection)
        assert [(m.id, m.metadata) for m in page.data] == [(made.id, {"topic": "port"})]

        await wait_embedded(app, client, operator, collection, 1)
        found = await fd.search(SearchRequest(query="harbour lights", collection=collection))
        assert [h.memory.id for h in found.hits] == [made.id]
        assert found.hits[0].memory.metadata == {"topic": "port"}
        assert found.hits[0].memory == await fd.get_memory(made.id)

    def sync_search() -> list[tuple[int, dict]]:
        with Client(live_url, key) as fd:
            result = fd.search_records(
                q="harbour lights", collection=collection, metadata=["topic=port"]
            )
            return [(h.memory.id, h.memory.metadata) for h in result.hits]

    assert await asyncio.to_thread(sync_search) == [(made.id, {"topic": "port"})]
