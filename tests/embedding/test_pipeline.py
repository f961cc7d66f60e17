"""The pending pipeline: cache by content hash, failing providers, retries, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from foredeck.embedding.parts import EMBED_WAKEUP, EMBEDDER
from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error, unique
from tests.index.helpers import create, wait_embedded


class Counting:
    """Wraps the real embedder and records every text it is asked to embed."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[attr-defined]
        self.dimension = inner.dimension  # type: ignore[attr-defined]
        self.max_tokens = inner.max_tokens  # type: ignore[attr-defined]
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return self.inner.encode(texts)  # type: ignore[attr-defined, no-any-return]


class Failing(Counting):
    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        raise RuntimeError("provider is down")


@pytest.fixture
def swap_embedder(app: FastAPI) -> Iterator[list]:
    original = runtime_of(app)[EMBEDDER]
    holder: list = []
    yield holder
    runtime_of(app)[EMBEDDER] = original
    for restore in holder:
        restore()


async def test_unchanged_text_is_never_embedded_twice(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict, swap_embedder: list
) -> None:
    counting = Counting(runtime_of(app)[EMBEDDER])
    runtime_of(app)[EMBEDDER] = counting
    coll = unique("cache")
    text = f"a sentence only this test writes {coll}"
    await create(client, operator, coll, [text, text])
    await wait_embedded(app, client, viewer, coll, 2)
    await create(client, operator, coll, [text])
    await wait_embedded(app, client, viewer, coll, 3)
    assert counting.seen.count(text) == 1


async def test_failing_provider_keeps_records_and_retries(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict, swap_embedder: list
) -> None:
    config = runtime_of(app).config
    saved = config.embedding_retry_seconds
    config.embedding_retry_seconds = 0
    swap_embedder.append(lambda: setattr(config, "embedding_retry_seconds", saved))
    failing = Failing(runtime_of(app)[EMBEDDER])
    original = runtime_of(app)[EMBEDDER]
    runtime_of(app)[EMBEDDER] = failing
    coll = unique("fail")
    [mid] = await create(client, operator, coll, ["this text meets a broken provider"])
    for _ in range(600):
        runtime_of(app)[EMBED_WAKEUP].set()
        mem = (await client.get(f"/api/v1/memories/{mid}", headers=viewer)).json()["data"]
        if (
            mem["embedding_state"] == "failed"
            and len(failing.seen) >= config.embedding_max_attempts
        ):
            break
        await asyncio.sleep(0.05)
    assert mem["embedding_state"] == "failed"
    assert "provider is down" in mem["embedding_error"]
    status = (await client.get("/api/v1/embedding", headers=viewer)).json()["data"]
    assert status["failed"] >= 1
    # The provider recovers; an operator re-queues the failed records and they are indexed.
    runtime_of(app)[EMBEDDER] = original
    assert_error(await client.post("/api/v1/embedding/retry", headers=viewer), 403)
    resp = await client.post("/api/v1/embedding/retry", headers=operator)
    assert resp.json()["data"]["requeued"] >= 1
    await wait_embedded(app, client, viewer, coll, 1)
    body = {"query": "broken provider", "mode": "semantic", "collection": coll}
    hits = (await client.post("/api/v1/search", json=body, headers=viewer)).json()["data"]["hits"]
    assert [h["memory"]["id"] for h in hits] == [mid]
