"""`foredeck mcp` over stdio (a subprocess on the same database), driven by the mcp client."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from mcp import Client, StdioServerParameters
from tests.conftest import unique
from tests.mcp.conftest import api_key, data_of

FOREDECK = str(Path(sys.executable).parent / "foredeck")


def _params(app: FastAPI, token: str) -> StdioServerParameters:
    config = runtime_of(app).config
    env = {
        **os.environ,
        "FOREDECK_DATA_DIR": str(config.data_dir),
        "FOREDECK_DATABASE_URL": config.database_url,
        "FOREDECK_TOKEN": token,
        "FOREDECK_LOG_LEVEL": "WARNING",
    }
    env.pop("FOREDECK_URL", None)
    return StdioServerParameters(command=FOREDECK, args=["mcp"], env=env)


async def test_stdio_tools_progress_and_errors(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    token = await api_key(client, operator)
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(_params(app, token), read_timeout_seconds=120) as mcp:
        tools = {t.name: t for t in (await mcp.list_tools()).tools}
        assert "create_project" in tools and "wait_for_job" in tools
        name = unique("prj")
        made = data_of(await mcp.call_tool("create_project", {"name": name, "modules": ["api"]}))
        assert made["data"]["status"] == "created"
        started = data_of(await mcp.call_tool("create_test_job", {"count": 6, "delay": 0.1}))
        job = data_of(
            await mcp.call_tool(
                "wait_for_job", {"job_id": started["data"]["job_id"]}, progress_callback=on_progress
            )
        )["data"]
        bad = await mcp.call_tool("create_project", {"name": 5, "modules": "x"})
        # What a desktop client does: import a file, follow the job, search what came in.
        coll, word = unique("mcp"), unique("zebra")
        folder = runtime_of(app).config.path("imports")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{coll}.csv").write_text(f"content\nthe {word} crossed the road\nplain row\n")
        imported = data_of(
            await mcp.call_tool(
                "start_import", {"source": "file", "path": f"{coll}.csv", "collection": coll}
            )
        )
        done = data_of(await mcp.call_tool("wait_for_job", {"job_id": imported["data"]["job_id"]}))
        hits = data_of(
            await mcp.call_tool("search", {"query": word, "collection": coll, "mode": "keyword"})
        )
        # ... and generate a dataset, following that job too.
        schema = {
            "name": unique("mcpds"),
            "fields": [
                {"name": "id", "type": "uuid", "unique": True},
                {"name": "age", "type": "integer", "min": 18, "max": 90},
            ],
            "rows": 200,
            "chunk_size": 64,
            "seed": 3,
        }
        generating = data_of(await mcp.call_tool("create_dataset", {"schema": schema}))
        generated = data_of(
            await mcp.call_tool("wait_for_job", {"job_id": generating["data"]["job_id"]})
        )["data"]
    assert done["data"]["status"] == "succeeded" and done["data"]["result"]["inserted"] == 2
    assert word in hits["data"]["hits"][0]["memory"]["content"]
    assert generated["status"] == "succeeded", generated["error"]
    assert generated["result"]["rows"] == 200
    # The subprocess wrote to the same database the API reads.
    rest = await client.get(f"/api/v1/projects?name={name}", headers=operator)
    assert rest.json()["data"][0]["id"] == made["data"]["id"]
    assert job["status"] == "succeeded" and len(set(seen)) >= 2 and seen[-1] == 6
    assert bad.is_error
    fields = {d["field"] for d in json.loads(bad.content[0].text)["details"]}
    assert {"name", "modules"} <= fields


def test_mcp_command_needs_credentials() -> None:
    from typer.testing import CliRunner

    from foredeck.cli.main import app as cli

    result = CliRunner().invoke(cli, ["mcp"], env={"FOREDECK_TOKEN": "", "FOREDECK_URL": ""})
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["mcp", "--user", "x", "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 2


async def test_local_user_token_acts_as_that_user(
    app: FastAPI, client: httpx.AsyncClient, make_user
) -> None:
    from foredeck.mcp.stdio import _local_token

    name = unique("local")
    await make_user("viewer", username=name)
    token = await _local_token(app, name)
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["data"]["username"] == name and me.json()["data"]["role"] == "viewer"
