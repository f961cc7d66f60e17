"""`foredeck schedules --url`: the same commands against a server over real HTTP."""

from __future__ import annotations

import asyncio
import json

import httpx
from click.testing import Result
from typer.testing import CliRunner

from foredeck.cli.main import app as cli_app
from tests.conftest import unique

runner = CliRunner()


async def cli(*args: str) -> Result:
    return await asyncio.to_thread(runner.invoke, cli_app, list(args), env={"COLUMNS": "200"})


async def test_schedules_over_http(
    live_url: str, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    key = await client.post("/api/v1/api_keys", json={"name": unique("k")}, headers=operator)
    remote = ["--url", live_url, "--token", key.json()["data"]["key"]]
    name = unique("remote-")
    made = await cli("schedules", "create", name, "--kind", "test", "--params",
                     '{"count": 1, "delay": 0}', "--every", "3600", *remote)  # fmt: skip
    assert made.exit_code == 0, made.output
    bad = await cli("schedules", "create", unique("bad-"), "--kind", "test", "--tz", "No/Where",
                    "--every", "3600", *remote)  # fmt: skip
    assert bad.exit_code == 1 and "timezone" in bad.output
    listed = await cli("schedules", "list", "--json", *remote)
    assert listed.exit_code == 0, listed.output
    assert name in [s["name"] for s in json.loads(listed.stdout)]
    paused = await cli("schedules", "pause", name, *remote)
    assert paused.exit_code == 0 and "paused" in paused.output
    ran = await cli("schedules", "run-now", name, *remote)
    assert ran.exit_code == 0 and "queued job" in ran.output
    gone = await cli("schedules", "delete", name, *remote)
    assert gone.exit_code == 0, gone.output
    missing = await cli("schedules", "resume", name, *remote)
    assert missing.exit_code == 1 and f"No schedule {name}" in missing.output
