"""A change of embedding model applies live, in this app and in a second one on the database.

These tests change the model of a whole database, so they run on their own (a fresh SQLite
file, or a PostgreSQL database of their own) with their own apps, never the session's app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.app import create_app
from foredeck.auth import service as auth_service
from foredeck.auth.schemas import Role
from foredeck.config import Config
from foredeck.db import transaction
from foredeck.embedding import registry
from foredeck.embedding import service as embedding_service
from foredeck.embedding.parts import EMBEDDER
from foredeck.index.parts import INDEX_MANAGER
from foredeck.kit.runtime import runtime_of
from foredeck.models.index import EmbeddingVector
from foredeck.models.records import Memory
from foredeck.records import service as records_service
from tests.conftest import PASSWORD, TEST_DB_URL, _recreate_postgres, unique
from tests.console.helpers import console_client
from tests.index.helpers import create, wait_embedded

STATIC, MINILM = registry.STATIC, registry.MINILM
TEXTS = [
    "harbour cranes unload container ships at dawn",
    "owls hunt mice in the barn at night",
    "a sourdough loaf needs a long slow proof",
    "the lighthouse keeper trims the lamp wick",
]


class Apps:
    """The serving app (with its embedded worker pool), a serving replica without workers,
    and a worker-like process (no embed loop: it only follows the stored index state)."""

    def __init__(self) -> None:
        self.main: FastAPI
        self.client: httpx.AsyncClient
        self.replica: httpx.AsyncClient
        self.worker: FastAPI
        self.admin: dict[str, str] = {}
        self.operator: dict[str, str] = {}
        self.viewer: dict[str, str] = {}


@pytest.fixture(scope="module")
async def apps(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Apps]:
    data_dir: Path = tmp_path_factory.mktemp("model-switch")
    url = f"sqlite+aiosqlite:///{data_dir / 'switch.db'}"
    if TEST_DB_URL:
        url = TEST_DB_URL.rsplit("/", 1)[0] + "/foredeck_test_model_switch"
        await _recreate_postgres(url)
    config = Config(
        data_dir=data_dir,
        database_url=url,
        rate_limit_default="100000/minute",
        rate_limits={},
        secret_key=None,
        embedding_model=STATIC,
        embedding_poll_seconds=0.2,
        index_sync_seconds=0,
        workers=1,
    )
    out = Apps()
    out.main = create_app(config)
    replica = create_app(config.model_copy(update={"workers": 0}))
    out.worker = create_app(config.model_copy(update={"workers": 0}))
    runtime_of(out.worker).worker_process = True
    async with (
        out.main.router.lifespan_context(out.main),
        replica.router.lifespan_context(replica),
        out.worker.router.lifespan_context(out.worker),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=out.main), base_url="http://main"
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=replica), base_url="http://replica"
        ) as replica_client,
    ):
        replica_client.app = replica  # type: ignore[attr-defined]
        out.client, out.replica = client, replica_client
        for role in ("admin", "operator", "viewer"):
            name = unique(role)
            async with transaction(runtime_of(out.main).sessionmaker) as session:
                await auth_service.create_user(
                    session, username=name, password=PASSWORD, role=Role(role)
                )
            resp = await client.post(
                "/api/v1/auth/token", json={"username": name, "password": PASSWORD}
            )
            token = resp.json()["data"]["access_token"]
            setattr(out, role, {"Authorization": f"Bearer {token}"})
        yield out


async def index_of(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    resp = await client.get("/api/v1/index", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def until(check: Callable[[], Any], what: str, seconds: float = 120) -> Any:
    """Poll an async check until it returns something truthy (no timing assertion)."""
    for _ in range(int(seconds * 10)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def put_model(apps: Apps, model: str) -> None:
    resp = await apps.client.put(
        "/api/v1/settings/embedding", json={"model": model}, headers=apps.admin
    )
    assert resp.status_code == 200, resp.text


async def search(client: httpx.AsyncClient, headers: dict[str, str], coll: str) -> dict[str, Any]:
    body = {"query": "cranes unloading ships", "mode": "semantic", "collection": coll}
    resp = await client.post("/api/v1/search", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def console_page(app: FastAPI) -> str:
    """The console's Index page as a signed-in viewer sees it."""
    client, _ = await console_client(app, "viewer")
    async with aclosing(client):
        page = await client.get("/ui/index")
    assert page.status_code == 200, page.text
    return page.text


async def vector_dims(app: FastAPI, coll: str, model: str) -> list[int]:
    """The dimension of the stored vector of model for each record of the collection."""
    async with runtime_of(app).sessionmaker() as session:
        rows = await session.execute(
            select(EmbeddingVector.dimension)
            .join(Memory, Memory.content_hash == EmbeddingVector.content_hash)
            .where(Memory.collection == coll, EmbeddingVector.model == model)
        )
        return [int(d) for (d,) in rows.all()]


async def switched(apps: Apps, coll: str, model: str, dimension: int) -> None:
    """Wait until every app serves model and the collection is embedded and indexed with it."""

    async def main_done() -> bool:
        stats = await index_of(apps.client, apps.viewer)
        return (
            stats["model"] == model
            and stats["dimension"] == dimension
            and stats["status"] == "ready"
            and stats["search_model"] == model
            and stats["pending_count"] == 0
        )

    await until(main_done, f"the main app to finish switching to {model}")
    await wait_embedded(apps.main, apps.client, apps.viewer, coll, len(TEXTS))
    assert await vector_dims(apps.main, coll, model) == [dimension] * len(TEXTS)

    async def replica_done() -> bool:
        stats = await index_of(apps.replica, apps.viewer)
        return stats["model"] == model and stats["vector_count"] >= len(TEXTS)

    await until(replica_done, f"the replica to switch to {model}")

    async def worker_done() -> bool:
        # A worker has no loop of its own: its next index sync (or embed batch) follows.
        manager = runtime_of(apps.worker)[INDEX_MANAGER]
        await manager.sync(runtime_of(apps.worker).sessionmaker, force=True)
        return bool(
            runtime_of(apps.worker)[EMBEDDER].name == model and manager.dimension == dimension
        )

    await until(worker_done, f"the worker to switch to {model}")


async def test_failed_load_keeps_the_old_model(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    coll = unique("fail")
    ids = await create(apps.client, apps.operator, coll, TEXTS)
    await wait_embedded(apps.main, apps.client, apps.viewer, coll, len(TEXTS))
    real = registry.load_embedder

    def broken(config: Config, name: str | None = None) -> Any:
        if name == MINILM:
            raise RuntimeError("weights are corrupt")
        return real(config, name)

    monkeypatch.setattr(registry, "load_embedder", broken)
    await put_model(apps, MINILM)

    async def failed() -> dict[str, Any] | None:
        stats = await index_of(apps.client, apps.viewer)
        return stats if stats["model_error"] else None

    stats = await until(failed, "the load failure to be reported")
    assert "weights are corrupt" in stats["model_error"] and MINILM in stats["model_error"]
    assert stats["model"] == STATIC and stats["status"] == "ready"
    assert runtime_of(apps.main)[EMBEDDER].name == STATIC
    result = await search(apps.client, apps.viewer, coll)
    assert result["model"] == STATIC and result["hits"][0]["memory"]["id"] == ids[0]
    page = await console_page(apps.main)
    assert 'data-testid="index-model-error"' in page and "weights are corrupt" in page

    # Saving the model in use again clears the error.
    monkeypatch.setattr(registry, "load_embedder", real)
    await put_model(apps, STATIC)

    async def cleared() -> bool:
        return (await index_of(apps.client, apps.viewer))["model_error"] is None

    await until(cleared, "the error to clear")


async def test_embed_batch_refuses_a_stale_model(apps: Apps) -> None:
    """A batch embedded with a model that is no longer the live one stores nothing."""

    class Stale:
        name, dimension, max_tokens, inline = "stale-model", 3, 10, True

        def encode(self, texts: list[str]) -> Any:
            import numpy as np

            return np.ones((len(texts), 3), dtype=np.float32)

    state = runtime_of(apps.main)
    async with state.sessionmaker() as session:
        await records_service.create_memory(session, content=unique("stale"), collection="x")
        with pytest.raises(embedding_service.ModelChanged):
            await embedding_service.embed_batch(session, Stale(), state.config, limit=10)
        await session.rollback()
    async with state.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(EmbeddingVector.model == "stale-model")
        )
    assert count == 0


@pytest.mark.minilm
async def test_model_change_applies_live_everywhere(apps: Apps) -> None:
    coll = unique("switch")
    ids = await create(apps.client, apps.operator, coll, TEXTS)
    await wait_embedded(apps.main, apps.client, apps.viewer, coll, len(TEXTS))
    assert await vector_dims(apps.main, coll, STATIC) == [64] * len(TEXTS)

    await put_model(apps, MINILM)
    # Search keeps answering while the model loads and the records are re-embedded.
    result = await search(apps.client, apps.viewer, coll)
    assert result["model"] in (STATIC, MINILM)
    await switched(apps, coll, MINILM, 384)
    for client in (apps.client, apps.replica):
        result = await search(client, apps.viewer, coll)
        assert result["model"] == MINILM
        assert result["hits"][0]["memory"]["id"] == ids[0]
    assert f"{MINILM} (384-d)" in await console_page(apps.main)
    models = (await apps.client.get("/api/v1/available_models", headers=apps.viewer)).json()
    assert [m["name"] for m in models["data"] if m["active"]] == [MINILM]

    # And back: the static model's vectors are still cached, so nothing is embedded twice.
    await put_model(apps, STATIC)
    await switched(apps, coll, STATIC, 64)
    result = await search(apps.replica, apps.viewer, coll)
    assert result["model"] == STATIC and result["hits"][0]["memory"]["id"] == ids[0]
