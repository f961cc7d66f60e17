"""Seed 002's thin-layer rule: registry routers write rows and nothing else.

Watched with real Redis (MONITOR, filtered to the registry app's own connections) and the
real jobs table: a full CRUD cycle of every entity publishes nothing and enqueues no job.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import redis.asyncio as redis_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.kit.cache import RedisCache
from foredeck.kit.envelope import install_error_handlers
from foredeck.kit.runtime import Runtime, runtime_of
from foredeck.models.jobs import Job
from foredeck.registry.router import router as registry_router
from tests.conftest import unique
from tests.registry.test_crud import _bodies

# Commands that would hand work to someone else: pub/sub, streams, lists (Celery/kombu queues).
PUBLISHING = {
    "PUBLISH",
    "SPUBLISH",
    "XADD",
    "LPUSH",
    "RPUSH",
    "LPUSHX",
    "RPUSHX",
    "EVALSHA",
    "EVAL",
}


async def _watch(url: str, sentinel: str, seen: list[dict], ready: asyncio.Event) -> None:
    client = redis_asyncio.from_url(url)
    try:
        async with client.monitor() as monitor:
            ready.set()
            while True:
                info = await monitor.next_command()
                seen.append(info)
                if sentinel in info.get("command", ""):
                    return
    finally:
        await client.aclose()


async def test_registry_publishes_nothing_and_enqueues_no_job(
    app: FastAPI, client: httpx.AsyncClient, admin: dict, redis_url: str
) -> None:
    name = f"foredeck-thin-{uuid.uuid4().hex[:8]}"
    redis = redis_asyncio.from_url(redis_url, client_name=name)
    mini = FastAPI()
    install_error_handlers(mini)
    mini.include_router(registry_router)
    # Only what a registry request uses: no pub/sub, no job engine, nothing started.
    thin = mini.state.runtime = Runtime(runtime_of(app).config)
    thin.sessionmaker = runtime_of(app).sessionmaker
    thin.redis = redis
    thin.cache = RedisCache(redis, namespace=f"{name}:")
    key = await client.post("/api/v1/api_keys", json={"name": unique("k")}, headers=admin)
    headers = {"Authorization": f"Bearer {key.json()['data']['key']}"}
    uid = (await client.get("/api/v1/users/me", headers=admin)).json()["data"]["id"]

    async def jobs_by_me() -> int:
        async with runtime_of(app).sessionmaker() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(Job).where(Job.created_by == uid)
                )
                or 0
            )

    jobs_before = await jobs_by_me()
    seen: list[dict] = []
    ready = asyncio.Event()
    sentinel = f"thin-test-done-{uuid.uuid4().hex}"
    watcher = asyncio.create_task(_watch(redis_url, sentinel, seen, ready))
    await ready.wait()
    transport = httpx.ASGITransport(app=mini)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mini") as c:
            for path, body, field, value in await _bodies(client, admin):
                resp = await c.post(f"/api/v1/{path}", json=body, headers=headers)
                assert resp.status_code == 201, resp.text
                url = f"/api/v1/{path}/{resp.json()['data']['id']}"
                assert (await c.get(url, headers=headers)).status_code == 200
                assert (await c.get(f"/api/v1/{path}", headers=headers)).status_code == 200
                patched = await c.patch(url, json={field: value}, headers=headers)
                assert patched.status_code == 200
                assert (await c.delete(url, headers=headers)).status_code == 204
        mine = {
            (c["addr"].rsplit(":", 1)[0], c["addr"].rsplit(":", 1)[1])
            for c in await redis.client_list()
            if c.get("name") == name
        }
        await redis.echo(sentinel)
        await watcher
    finally:
        if not watcher.done():
            watcher.cancel()
        await redis.aclose()
    ours = [s for s in seen if (s["client_address"], str(s["client_port"])) in mine]
    commands = [s["command"].split(" ", 1)[0].upper() for s in ours]
    # The monitor did see this app's traffic (the API-key cache look-ups) ...
    assert "GET" in commands, commands
    # ... and none of it handed work to anyone.
    assert not PUBLISHING & set(commands), commands
    assert await jobs_by_me() == jobs_before
