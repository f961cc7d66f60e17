"""Index checkpoints through the S3 blob store (boto3 against moto's server on 127.0.0.1):
a rebuild on one app is loaded by another whose data dir is empty and its own; a damaged
stored checkpoint is refused and never loaded."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from foredeck.app import create_app
from foredeck.blobs import store_for
from foredeck.config import Config
from foredeck.index import checkpoints
from foredeck.index import service as index_service
from foredeck.index.parts import INDEX_MANAGER
from foredeck.index.store import STAGING_PREFIX
from foredeck.kit.runtime import runtime_of
from tests.blobs.conftest import keys
from tests.blobs.s3server import S3Server
from tests.conftest import unique
from tests.index.helpers import create, wait_embedded, wait_index_idle

TEXTS = [
    "harbour cranes unload container ships",
    "owls hunt small mice at dusk",
    "sourdough bread needs a long proof",
    "glaciers carve deep valleys",
]
QUERY = "cranes unloading ships"


@asynccontextmanager
async def instance(app: FastAPI, data_dir: Path, **settings: object) -> AsyncIterator[FastAPI]:
    """Another foredeck process on the session's database: its own data dir and blob store,
    no workers (the session app's workers embed)."""
    config = runtime_of(app).config.model_copy(
        update={
            "data_dir": data_dir,
            "workers": 0,
            # Tokens made by the session app must verify here too.
            "secret_key": runtime_of(app).config.resolved_secret_key,
            **settings,
        }
    )
    other = create_app(config)
    # After create_app, which configures logging: its start-up is captured too.
    with capture_logs() as logs:
        other.state.logs = logs
        async with other.router.lifespan_context(other):
            yield other


async def search_ids(target: FastAPI, headers: dict, coll: str, query: str) -> list[int]:
    transport = httpx.ASGITransport(app=target)
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as c:
        body = {"query": query, "mode": "semantic", "collection": coll, "k": 4}
        resp = await c.post("/api/v1/search", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return [hit["memory"]["id"] for hit in resp.json()["data"]["hits"]]


@dataclass
class Rebuilt:
    coll: str
    ids: list[int]
    settings: dict[str, Any]
    folder: str
    store: Any
    expected: list[int]


@pytest.fixture
async def rebuilt(
    app: FastAPI,
    client: httpx.AsyncClient,
    operator: dict,
    viewer: dict,
    s3: S3Server,
    data_dir: Path,
) -> Rebuilt:
    """Records embedded, then a rebuild on an S3 instance and what it answers QUERY with.

    The writer shares the session app's data dir, so the session app (local store) keeps
    finding the folder index_state names; readers get an empty data dir of their own."""
    coll = unique("s3ix")
    ids = await create(client, operator, coll, TEXTS)
    await wait_embedded(app, client, viewer, coll, len(TEXTS))
    await wait_index_idle(client, viewer)
    settings = s3.settings(s3.make_bucket())
    async with instance(app, data_dir, **settings) as writer:
        folder = (await index_service.rebuild(runtime_of(writer)))["folder"]
        expected = await search_ids(writer, viewer, coll, QUERY)
        return Rebuilt(coll, ids, settings, folder, store_for(runtime_of(writer).config), expected)


async def test_a_rebuild_is_stored_in_s3_and_loaded_by_an_instance_with_an_empty_data_dir(
    app: FastAPI, viewer: dict, tmp_path: Path, data_dir: Path, rebuilt: Rebuilt
) -> None:
    folder = rebuilt.folder
    assert {f"index/default/{folder}/{f}" for f in checkpoints.FILES} <= set(keys(rebuilt.store))

    reader_dir = tmp_path / "reader"
    reader_dir.mkdir()
    async with instance(app, reader_dir, **rebuilt.settings) as reader:
        manager = runtime_of(reader)[INDEX_MANAGER]
        assert manager.folder == folder
        assert all(i in manager.vindex for i in rebuilt.ids)
        assert (reader_dir / "index" / folder / "index.faiss").is_file()
        assert await search_ids(reader, viewer, rebuilt.coll, QUERY) == rebuilt.expected

        # Its copy is now behind: a newer generation is fetched at the next sync.
        async with instance(app, data_dir, **rebuilt.settings) as writer:
            newer = (await index_service.rebuild(runtime_of(writer)))["folder"]
        await manager.sync(runtime_of(reader).sessionmaker, force=True)
        assert manager.folder == newer != folder
        assert (reader_dir / "index" / newer / "index.faiss").is_file()
        assert await search_ids(reader, viewer, rebuilt.coll, QUERY) == rebuilt.expected
    assert rebuilt.expected[0] == rebuilt.ids[0]


async def test_a_damaged_checkpoint_in_s3_is_refused_and_the_index_built_from_the_database(
    app: FastAPI, viewer: dict, tmp_path: Path, rebuilt: Rebuilt
) -> None:
    folder, store = rebuilt.folder, rebuilt.store
    key = f"index/default/{folder}/index.faiss"
    body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    # Same length, one byte changed: only the checksum can tell.
    damaged = body[:-1] + bytes([body[-1] ^ 0xFF])
    store.client.put_object(Bucket=store.bucket, Key=key, Body=damaged)

    reader_dir = tmp_path / "reader"
    reader_dir.mkdir()
    async with instance(app, reader_dir, **rebuilt.settings) as reader:
        manager = runtime_of(reader)[INDEX_MANAGER]
        logs = reader.state.logs
        refused = [e for e in logs if e["event"] == "index_checkpoint_refused"]
        assert refused and refused[0]["folder"] == folder
        assert "index.faiss does not match its sha256" in refused[0]["reason"]
        assert refused[0]["log_level"] == "error"
        # Never loaded: no folder named, none kept on disk, no staging left behind.
        assert manager.folder is None
        index_root = reader_dir / "index"
        assert not (index_root / folder).exists()
        assert not [p for p in index_root.iterdir() if p.name.startswith(STAGING_PREFIX)]
        # Built from the stored vectors instead, so search answers as the writer did.
        assert all(i in manager.vindex for i in rebuilt.ids)
        assert await search_ids(reader, viewer, rebuilt.coll, QUERY) == rebuilt.expected


def test_old_generations_leave_the_store_and_recent_unnamed_ones_stay(
    s3: S3Server, tmp_path: Path
) -> None:
    config = Config(data_dir=tmp_path, **s3.settings(s3.make_bucket()))
    store = store_for(config)
    now = time.time_ns()
    named, old, uploading = f"gen-{now - 7200 * 10**9}-aa", "gen-1-bb", f"gen-{now}-cc"
    for folder in (named, old, uploading):
        for file in checkpoints.FILES:
            store.put(f"{checkpoints.prefix('default', folder)}/{file}", io.BytesIO(b"x"))
    store.put("index/other/gen-1-dd/index.faiss", io.BytesIO(b"x"))

    assert checkpoints.cleanup(config, "default", {named}) == 1
    left = {key.split("/")[2] for key in keys(store) if key.startswith("index/default/")}
    # The named one is kept however old; one still being uploaded by another process is young.
    assert left == {named, uploading}
    assert "index/other/gen-1-dd/index.faiss" in keys(store)


async def test_a_rebuild_whose_checkpoint_the_store_refuses_fails_and_changes_nothing(
    app: FastAPI, s3: S3Server, data_dir: Path
) -> None:
    from foredeck.blobs import BlobStoreError
    from foredeck.index.manager import get_state

    # Port 1 on loopback: nothing listens, so every put is refused at once.
    down = s3.settings("foredeck-down", s3_endpoint_url="http://127.0.0.1:1")
    async with instance(app, data_dir, **down) as writer:
        async with runtime_of(app).sessionmaker() as session:
            before = await get_state(session)
            generation, folder = before.generation, before.folder
        with pytest.raises(BlobStoreError) as refused:
            await index_service.rebuild(runtime_of(writer))
        assert "unreachable" in refused.value.message
        async with runtime_of(app).sessionmaker() as session:
            after = await get_state(session)
            assert (after.generation, after.folder, after.status) == (generation, folder, "ready")
        assert not [e for e in writer.state.logs if e["event"] == "index_rebuilt"]
