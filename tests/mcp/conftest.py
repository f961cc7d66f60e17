from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.client.live import serve
from tests.conftest import unique


@pytest.fixture(scope="session")
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    async for url in serve(app):
        yield url


async def api_key(client: httpx.AsyncClient, headers: dict) -> str:
    resp = await client.post("/api/v1/api_keys", json={"name": unique("mcp")}, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["key"])
