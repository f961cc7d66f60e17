"""/health/live and /health/ready answer {status, checks}; ready fails (503) on a failing check,
the LLM key included once one is configured; /health keeps its own shape."""

from __future__ import annotations

import os

import httpx
from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from tests.conftest import stored_section, unique


async def test_live_and_ready_ok(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok", "checks": {"process": "ok"}}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"]["startup"] == "ok" and body["checks"]["database"] == "ok"
    # No Redis and no LLM key configured in this session: neither is checked.
    assert "redis" not in body["checks"] and "llm_key" not in body["checks"]
    legacy = (await client.get("/health")).json()
    assert legacy["status"] in ("healthy", "degraded") and "services" in legacy


async def test_ready_fails_while_starting(client: httpx.AsyncClient, app: FastAPI) -> None:
    runtime_of(app).ready = False
    try:
        resp = await client.get("/health/ready")
    finally:
        runtime_of(app).ready = True
    assert resp.status_code == 503
    assert resp.json() == {
        "status": "fail",
        "checks": {"startup": "starting", "database": "ok"},
    }


async def test_ready_checks_the_llm_key_when_configured(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    key_dir = runtime_of(app).config.path("credentials")
    os.chmod(key_dir, 0o700)
    name = f"{unique('probe')}.key"
    key = key_dir / name
    key.write_text("sk-probe-1\n")
    os.chmod(key, 0o600)
    section = {
        "provider": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "m",
        "api_key_path": name,
    }
    async with stored_section(app, "generator", section):
        ok = await client.get("/health/ready")
        assert ok.status_code == 200, ok.text
        assert ok.json()["checks"]["llm_key"] == "ok"
        assert "sk-probe-1" not in ok.text
        key.unlink()
        gone = await client.get("/health/ready")
        assert gone.status_code == 503
        assert gone.json()["status"] == "fail"
        assert gone.json()["checks"]["llm_key"] == "unreadable"
        assert gone.json()["checks"]["database"] == "ok"
    after = await client.get("/health/ready")
    assert after.status_code == 200 and "llm_key" not in after.json()["checks"]


async def test_ready_checks_redis_when_configured(
    client: httpx.AsyncClient, app: FastAPI, redis_url: str
) -> None:
    import redis.asyncio as redis_asyncio

    good = redis_asyncio.from_url(redis_url)
    bad = redis_asyncio.from_url("redis://127.0.0.2:1/0", socket_connect_timeout=0.5)
    try:
        runtime_of(app).redis = good
        assert (await client.get("/health/ready")).json()["checks"]["redis"] == "ok"
        runtime_of(app).redis = bad
        resp = await client.get("/health/ready")
        assert resp.status_code == 503 and resp.json()["checks"]["redis"] == "failed"
    finally:
        runtime_of(app).redis = None
        await good.aclose()
        await bad.aclose()
