"""`foredeck registry ...` against a server over HTTP, with the URL and token from the
environment or from --url / --token."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from tests.conftest import unique

FOREDECK = str(Path(sys.executable).parent / "foredeck")


async def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    # A subprocess the event loop waits on, so the in-loop server keeps answering it.
    proc = await asyncio.create_subprocess_exec(
        FOREDECK,
        "registry",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def _key(client: httpx.AsyncClient, headers: dict) -> str:
    resp = await client.post("/api/v1/api_keys", json={"name": unique("k")}, headers=headers)
    return str(resp.json()["data"]["key"])


async def test_cli_crud_over_http(
    live_url: str, client: httpx.AsyncClient, operator: dict, admin: dict
) -> None:
    env = {"FOREDECK_URL": live_url, "FOREDECK_TOKEN": await _key(client, operator)}
    name = unique("srv")
    rc, out, err = await _run(
        "servers",
        "create",
        "--set",
        f"name={name}",
        "--set",
        "host=10.2.0.1",
        "--set",
        'capacity={"cpu": 4}',
        "--json",
        env=env,
    )
    assert rc == 0, err
    server = json.loads(out)
    assert server["name"] == name and server["capacity"] == {"cpu": 4}
    rc, out, err = await _run(
        "servers", "update", str(server["id"]), "-s", "status=offline", "--json", env=env
    )
    assert rc == 0 and json.loads(out)["status"] == "offline", err
    rc, out, err = await _run("servers", "list", "-f", f"name={name}", "--json", env=env)
    listed = json.loads(out)
    assert listed["meta"]["total"] == 1 and listed["data"][0]["id"] == server["id"]
    rc, out, err = await _run("servers", "list", "-f", f"name={name}", env=env)
    assert rc == 0 and name in out and "offline" in out  # the table form
    # A duplicate port is the API's 409, shown with its code.
    alloc = [
        "allocations",
        "create",
        "-d",
        json.dumps({"server_id": server["id"], "port": 80, "service": "web"}),
    ]
    assert (await _run(*alloc, env=env))[0] == 0
    rc, out, err = await _run(*alloc, env=env)
    assert rc == 1 and "409 DUPLICATE" in err
    # Operators may not delete; an admin token given as --url/--token may.
    rc, _, err = await _run("servers", "delete", str(server["id"]), "-y", env=env)
    assert rc == 1 and "403" in err
    admin_key = await _key(client, admin)
    rc, _, err = await _run(
        "servers",
        "delete",
        str(server["id"]),
        "-y",
        "--cascade",
        "--url",
        live_url,
        "--token",
        admin_key,
    )
    assert rc == 0, err
    rc, _, err = await _run("servers", "get", str(server["id"]), env=env)
    assert rc == 1 and "404" in err


async def test_cli_bad_input(live_url: str, client: httpx.AsyncClient, operator: dict) -> None:
    env = {"FOREDECK_URL": live_url, "FOREDECK_TOKEN": await _key(client, operator)}
    rc, _, err = await _run("projects", "create", "-s", "name=x", "-s", "bogus=1", env=env)
    assert rc == 1 and "422" in err and "bogus" in err
    rc, _, err = await _run("projects", "list", "-f", "nope=1", env=env)
    assert rc != 0 and "unknown filter" in err
