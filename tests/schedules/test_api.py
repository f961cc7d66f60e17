"""`/api/v1/schedules`: CRUD, pause/resume, run now, runs, and bad input refused whole."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from foredeck.mcp.router import MCP_TOOLS
from tests.conftest import assert_error, unique
from tests.jobs.helpers import wait_job

BASE = "/api/v1/schedules"


def nightly_import(**extra: Any) -> dict[str, Any]:
    return {
        "name": unique("nightly-"),
        "kind": "import",
        "params": {"source": "url", "url": "http://127.0.0.1:9/records.csv"},
        "cron": "0 3 * * *",
        "timezone": "Europe/Berlin",
        **extra,
    }


async def _names(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    resp = await client.get(BASE, headers=headers)
    assert resp.status_code == 200, resp.text
    return {s["name"] for s in resp.json()["data"]}


async def test_create_read_update_pause_resume_delete(
    client: httpx.AsyncClient, operator: dict[str, str], viewer: dict[str, str]
) -> None:
    body = nightly_import()
    created = await client.post(BASE, json=body, headers=operator)
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    sid = data["id"]
    assert data["enabled"] is True and data["next_fire_at"] is not None
    assert data["params"]["collection"] == "default"  # cleaned by the kind's params model
    assert body["name"] in await _names(client, viewer)
    assert_error(await client.post(BASE, json=body, headers=operator), 409, "SCHEDULE_EXISTS")
    assert_error(await client.post(BASE, json=nightly_import(), headers=viewer), 403)

    changed = await client.patch(f"{BASE}/{sid}", json={"interval_seconds": 7200}, headers=operator)
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["cron"] is None
    assert changed.json()["data"]["interval_seconds"] == 7200

    paused = await client.post(f"{BASE}/{sid}/pause", headers=operator)
    assert paused.json()["data"]["enabled"] is False
    again = await client.get(f"{BASE}/{sid}", headers=viewer)
    assert again.json()["data"]["enabled"] is False
    resumed = await client.post(f"{BASE}/{sid}/resume", headers=operator)
    assert resumed.json()["data"]["enabled"] is True

    gone = await client.delete(f"{BASE}/{sid}", headers=operator)
    assert gone.status_code == 204
    assert_error(await client.get(f"{BASE}/{sid}", headers=viewer), 404, "NOT_FOUND")


async def test_run_now_queues_a_job_listed_as_a_run(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    body = {
        "name": unique("count-"),
        "kind": "test",
        "params": {"count": 2, "delay": 0},
        "interval_seconds": 3600,
    }
    sid = (await client.post(BASE, json=body, headers=operator)).json()["data"]["id"]
    fired = await client.post(f"{BASE}/{sid}/run-now", headers=operator)
    assert fired.status_code == 202, fired.text
    job_id = fired.json()["data"]["job_id"]
    await wait_job(client, operator, job_id, ("succeeded",))
    runs = (await client.get(f"{BASE}/{sid}/runs", headers=operator)).json()["data"]
    assert [(r["job_id"], r["manual"], r["status"]) for r in runs] == [(job_id, True, "succeeded")]
    schedule = (await client.get(f"{BASE}/{sid}", headers=operator)).json()["data"]
    assert (schedule["last_job_id"], schedule["last_job_status"]) == (job_id, "succeeded")
    await client.delete(f"{BASE}/{sid}", headers=operator)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": "0 0 31 2 *"}, "cron"),  # never fires
        ({"cron": "*/10 * * * * *"}, "cron"),  # every ten seconds
        ({"cron": "not a cron"}, "cron"),
        ({"cron": None, "interval_seconds": 30}, "interval_seconds"),
        ({"cron": None}, "cron"),  # neither cron nor interval
        ({"interval_seconds": 600}, "cron"),  # both
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"params": {"source": "url"}}, "params"),  # the import kind refuses it
        ({"params": {"source": "url", "url": "http://x", "bogus": 1}}, "params.bogus"),
        ({"kind": "embed"}, "kind"),  # not schedulable
        ({"kind": "no_such_kind"}, "kind"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, operator: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {**nightly_import(), **change}
    error = assert_error(await client.post(BASE, json=body, headers=operator), 422)
    assert field in [d["field"] for d in error["details"]], error
    assert body["name"] not in await _names(client, operator)


async def test_a_bad_edit_changes_nothing(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    sid = (await client.post(BASE, json=nightly_import(), headers=operator)).json()["data"]["id"]
    before = (await client.get(f"{BASE}/{sid}", headers=operator)).json()["data"]
    bad = await client.patch(
        f"{BASE}/{sid}", json={"cron": "* * * * *", "timezone": "Nowhere/Land"}, headers=operator
    )
    error = assert_error(bad, 422)
    assert error["details"][0]["field"] == "timezone"
    after = (await client.get(f"{BASE}/{sid}", headers=operator)).json()["data"]
    assert after == before
    await client.delete(f"{BASE}/{sid}", headers=operator)


async def test_builtin_retention_schedules_are_listed_and_kept(
    client: httpx.AsyncClient, operator: dict[str, str], viewer: dict[str, str]
) -> None:
    listed = (await client.get(BASE, headers=viewer)).json()["data"]
    builtin = {s["name"]: s for s in listed if s["builtin"]}
    assert {"job-retention", "telemetry-retention"} <= set(builtin)
    sid = builtin["job-retention"]["id"]
    assert_error(await client.delete(f"{BASE}/{sid}", headers=operator), 409, "SCHEDULE_BUILTIN")
    fixed = await client.patch(f"{BASE}/{sid}", json={"params": {"x": 1}}, headers=operator)
    assert assert_error(fixed, 422)["details"][0]["field"] == "params"


def test_every_schedules_endpoint_is_an_mcp_tool(app: FastAPI) -> None:
    tools = runtime_of(app)[MCP_TOOLS].tools
    names = {"list_schedules", "create_schedule", "get_schedule", "update_schedule",
             "delete_schedule", "pause_schedule", "resume_schedule", "run_schedule_now",
             "schedule_runs"}  # fmt: skip
    assert names <= set(tools)
