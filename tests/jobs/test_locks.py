"""Advisory locks: contention, holder named in the 409, release on end, code locks, admin free."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from foredeck.jobs.locks import LockHeld, operation_lock
from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error, unique
from tests.jobs.helpers import wait_job


async def test_many_concurrent_starts_exactly_one_wins(
    client: httpx.AsyncClient, operator: dict
) -> None:
    lock = unique("lk")
    body = {"kind": "test", "params": {"count": 50, "delay": 0.02, "lock": lock}}
    responses = await asyncio.gather(
        *[client.post("/api/v1/jobs", json=body, headers=operator) for _ in range(12)]
    )
    winners = [r for r in responses if r.status_code == 202]
    assert len(winners) == 1, [r.text for r in responses]
    holder = winners[0].json()["data"]["job_id"]
    for r in responses:
        if r.status_code != 202:
            err = assert_error(r, 409, "LOCK_HELD")
            assert holder in err["message"] and f"test:{lock}" in err["message"]
    locks = (await client.get("/api/v1/locks", headers=operator)).json()["data"]
    mine = next(lk for lk in locks if lk["name"] == f"test:{lock}")
    assert mine["held"] and mine["holder_job_id"] == holder
    await wait_job(client, operator, holder, ("succeeded",))
    locks = (await client.get("/api/v1/locks", headers=operator)).json()["data"]
    assert not next(lk for lk in locks if lk["name"] == f"test:{lock}")["held"]
    again = await client.post("/api/v1/jobs", json=body, headers=operator)
    assert again.status_code == 202, again.text


async def test_operation_lock_in_code(app: FastAPI) -> None:
    name = unique("code")
    async with operation_lock(runtime_of(app), name) as token:
        assert token >= 1
        with pytest.raises(LockHeld):
            async with operation_lock(runtime_of(app), name):
                pass
    async with operation_lock(runtime_of(app), name) as token2:
        assert token2 > token


async def test_admin_frees_stuck_lock(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict
) -> None:
    name = unique("stuck")
    cm = operation_lock(runtime_of(app), name, holder="stuck-process")
    await cm.__aenter__()
    try:
        assert_error(await client.delete(f"/api/v1/locks/{name}", headers=operator), 403)
        resp = await client.delete(f"/api/v1/locks/{name}", headers=admin)
        assert resp.status_code == 200 and resp.json()["data"]["held"] is False
        async with operation_lock(runtime_of(app), name):
            pass
    finally:
        await cm.__aexit__(None, None, None)
    assert_error(await client.delete("/api/v1/locks/no-such-lock", headers=admin), 404)
