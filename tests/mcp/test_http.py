"""MCP over streamable HTTP at /mcp, driven by the official mcp client."""

from __future__ import annotations

import json

import httpx
import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from mcp import Client
from tests.conftest import unique
from tests.mcp.conftest import api_key, data_of


def _client(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=120))
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


async def test_list_and_call_each_family(
    live_url: str, client: httpx.AsyncClient, operator: dict
) -> None:
    token = await api_key(client, operator)
    async with _client(live_url, token) as mcp:
        names = {t.name for t in (await mcp.list_tools()).tools}
        assert {"create_server", "list_memories", "create_job", "get_settings"} <= names
        assert "wait_for_job" in names and "create_token" not in names
        # registry
        name = unique("srv")
        made = data_of(await mcp.call_tool("create_server", {"name": name, "host": "10.9.9.9"}))
        assert made["data"]["status"] == "active"
        listed = data_of(await mcp.call_tool("list_servers", {"name": name}))
        assert listed["meta"]["total"] == 1
        # The same row through REST: same data, same service.
        rest = await client.get(f"/api/v1/servers/{made['data']['id']}", headers=operator)
        assert rest.json()["data"] == made["data"]
        # records
        coll = unique("c")
        memo = data_of(
            await mcp.call_tool("create_memory", {"content": "hello mcp", "collection": coll})
        )
        assert memo["data"]["embedding_state"] == "pending"
        page = data_of(await mcp.call_tool("list_memories", {"collection": coll}))
        assert [m["content"] for m in page["data"]] == ["hello mcp"]
        # system, users, settings, jobs
        info = data_of(await mcp.call_tool("get_info", {}))["data"]
        assert {"mcp", "registry"} <= set(info["features_enabled"])
        assert data_of(await mcp.call_tool("get_me", {}))["data"]["role"] == "operator"
        assert "data" in data_of(await mcp.call_tool("get_settings", {}))
        jobs = data_of(await mcp.call_tool("list_jobs", {"per_page": 5}))
        assert "total" in jobs["meta"]
        # workers, telemetry, index, generator: read-only calls of each family
        assert isinstance(data_of(await mcp.call_tool("list_workers", {}))["data"], list)
        assert data_of(await mcp.call_tool("get_telemetry_snapshot", {}))["data"]
        assert "data" in data_of(await mcp.call_tool("get_index_stats", {}))
        report = data_of(
            await mcp.call_tool(
                "validate_schema",
                {"fields": [{"name": "n", "type": "integer", "min": 1, "max": 9}]},
            )
        )
        assert "data" in report


async def test_progress_notifications_on_a_long_job(
    live_url: str, client: httpx.AsyncClient, operator: dict
) -> None:
    token = await api_key(client, operator)
    seen: list[tuple[float, float | None, str | None]] = []
    status_at_notice: list[str] = []
    job_id = ""

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))
        # What REST says at the moment a notification arrives: proof it came while running.
        job = await client.get(f"/api/v1/jobs/{job_id}", headers=operator)
        status_at_notice.append(job.json()["data"]["status"])

    async with _client(live_url, token) as mcp:
        started = data_of(await mcp.call_tool("create_test_job", {"count": 8, "delay": 0.15}))
        job_id = started["data"]["job_id"]
        done = await mcp.call_tool(
            "wait_for_job", {"job_id": job_id}, progress_callback=on_progress
        )
        job = data_of(done)["data"]
    assert job["status"] == "succeeded", job
    # Several distinct steps were reported while it ran, ending at the total.
    assert len({p for p, _, _ in seen}) >= 3, seen
    assert seen[-1][0] == 8 and seen[-1][1] == 8
    assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)
    assert "running" in status_at_notice, status_at_notice


async def test_errors_carry_the_envelope(
    live_url: str, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    token = await api_key(client, operator)
    async with _client(live_url, token) as mcp:
        bad = await mcp.call_tool("create_server", {"name": unique("s"), "host": "h", "x": 1})
        assert bad.is_error
        err = json.loads(bad.content[0].text)
        assert err["code"] == "VALIDATION_ERROR" and err["details"][0]["field"] == "x"
        wrong_type = await mcp.call_tool(
            "create_allocation", {"server_id": "abc", "port": 80, "service": "s"}
        )
        err = json.loads(wrong_type.content[0].text)
        assert wrong_type.is_error and err["status"] == 422 and err["details"][0]["field"]
        missing = await mcp.call_tool("get_server", {"item_id": 987654321})
        assert json.loads(missing.content[0].text)["code"] == "NOT_FOUND"
        fk = await mcp.call_tool(
            "create_allocation", {"server_id": 987654321, "port": 80, "service": "s"}
        )
        assert json.loads(fk.content[0].text)["code"] == "FOREIGN_KEY_MISSING"
        with pytest.raises(MCPError):
            await mcp.call_tool("no_such_tool", {})
    # Roles are the API's: a viewer's write is a 403 tool error.
    async with _client(live_url, await api_key(client, viewer)) as mcp:
        denied = await mcp.call_tool("create_server", {"name": unique("s"), "host": "h"})
        assert denied.is_error
        assert json.loads(denied.content[0].text)["code"] == "INSUFFICIENT_ROLE"


async def test_no_credentials_no_mcp(live_url: str) -> None:
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{live_url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "UNAUTHORIZED"
        bad = await http.post(
            f"{live_url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": "Bearer fdk_nope_nope", "Accept": "application/json"},
        )
        assert bad.status_code == 401 and bad.json()["success"] is False
