from __future__ import annotations

import json
from typing import Any

import httpx

from tests.client.live import live_url
from tests.conftest import unique

__all__ = ["api_key", "data_of", "live_url"]


async def api_key(client: httpx.AsyncClient, headers: dict) -> str:
    resp = await client.post("/api/v1/api_keys", json={"name": unique("mcp")}, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["key"])


def data_of(result: Any) -> dict:
    """The JSON a successful tool call returned."""
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)  # type: ignore[no-any-return]
