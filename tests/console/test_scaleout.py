"""Scale-out: a change made on one replica reaches a browser connected to another (Redis)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import aclosing

import pytest
from fastapi import FastAPI

from foredeck.config import Config
from foredeck.console.hub import CONSOLE_HUB
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Worker
from tests.console.helpers import HTMX, console_client
from tests.console.server import LiveServer


@pytest.fixture(scope="module")
def replicas(app: FastAPI, config: Config, redis_url: str) -> Iterator[list[LiveServer]]:
    # Rate limits are not what this checks (and their Redis storage needs an extra package).
    # No executors: the replicas only serve (and leave the shared worker rows alone).
    scaled = config.model_copy(
        update={"redis_url": redis_url, "rate_limit_enabled": False, "workers": 0}
    )
    servers = [LiveServer(scaled).start(), LiveServer(scaled).start()]
    yield servers
    for server in servers:
        server.stop()


async def test_a_pause_on_one_replica_streams_to_a_browser_on_the_other(
    app: FastAPI, replicas: list[LiveServer]
) -> None:
    acting_server, watching_server = replicas
    worker_id = f"replica-{uuid.uuid4().hex[:8]}"
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add(Worker(id=worker_id, host="h", pid=1, role="test", queues=["t"]))
    watcher, _ = await console_client(app, "viewer", base_url=watching_server.url)
    actor, csrf = await console_client(app, "operator", base_url=acting_server.url)
    async with aclosing(watcher), aclosing(actor):
        page = await watcher.get("/ui/")
        assert "scale-out" in page.text
        async with watcher.stream("GET", "/ui/sse?topics=workers") as stream:
            hub = runtime_of(watching_server.app)[CONSOLE_HUB]
            for _ in range(500):
                if hub.client_count:
                    break
                await asyncio.sleep(0.01)
            resp = await actor.post(
                "/ui/workers/control",
                data={"worker_id": worker_id, "action": "pause"},
                headers={**HTMX, "X-CSRF-Token": csrf},
            )
            assert resp.status_code == 204
            seen = False
            # A bound, not a timing claim: without it a lost event would hang the test.
            async with asyncio.timeout(30):
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        items = json.loads(line[6:]).get("items", [])
                        mine = [i for i in items if i.get("worker") == worker_id]
                        if any(i.get("action") == "pause" for i in mine):
                            seen = True
                            break
            assert seen, "the pause made on one replica never reached the other's stream"
