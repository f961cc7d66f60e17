"""Telemetry retention follows `retention.telemetry_hours`, or the server default when unset."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from foredeck.db import transaction
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import TelemetrySample
from foredeck.telemetry import retention
from tests.conftest import assert_error, stored_section
from tests.jobs.helpers import wait_job


def retention_setting(app: FastAPI, value: dict | None) -> AbstractAsyncContextManager[None]:
    return stored_section(app, "retention", value)


async def _samples(app: FastAPI, *ages_hours: float) -> list[int]:
    now = utcnow()
    async with transaction(runtime_of(app).sessionmaker) as session:
        rows = [
            TelemetrySample(source="retention-test", created_at=now - timedelta(hours=h), data={})
            for h in ages_hours
        ]
        session.add_all(rows)
        await session.flush()
        return [r.id for r in rows]


async def _left(app: FastAPI, ids: list[int]) -> list[bool]:
    async with runtime_of(app).sessionmaker() as session:
        found = set(
            (await session.execute(select(TelemetrySample.id).where(TelemetrySample.id.in_(ids))))
            .scalars()
            .all()
        )
    return [i in found for i in ids]


async def test_the_builtin_schedule_prunes_by_the_setting(
    client: httpx.AsyncClient, viewer: dict, operator: dict, app: FastAPI
) -> None:
    async with retention_setting(app, {"telemetry_hours": 2}):
        ids = await _samples(app, 3, 1)
        # The rounds are the built-in telemetry-retention schedule; run it now.
        listed = await client.get("/api/v1/schedules", headers=viewer)
        builtin = next(s for s in listed.json()["data"] if s["name"] == "telemetry-retention")
        assert builtin["builtin"] is True and builtin["kind"] == "telemetry_retention"
        fired = await client.post(f"/api/v1/schedules/{builtin['id']}/run-now", headers=operator)
        assert fired.status_code == 202, fired.text
        await wait_job(client, operator, fired.json()["data"]["job_id"], ("succeeded",))
        assert await _left(app, ids) == [False, True]
        ok = await client.get("/api/v1/telemetry/history?window=2h&step=1m", headers=viewer)
        assert ok.status_code == 200, ok.text
        too_long = await client.get("/api/v1/telemetry/history?window=3h", headers=viewer)
        assert_error(too_long, 422)


async def test_unset_falls_back_to_the_server_default(app: FastAPI) -> None:
    settings = runtime_of(app)[JOB_SETTINGS]
    default = settings.telemetry_retention_hours
    settings.telemetry_retention_hours = 5.0
    try:
        async with retention_setting(app, None):
            ids = await _samples(app, 6, 4)
            assert await retention.prune(runtime_of(app)) >= 1
            assert await _left(app, ids) == [False, True]
            # Stored, the setting wins over the default (a window longer than the default).
            async with retention_setting(app, {"telemetry_hours": 3}):
                assert await retention.prune(runtime_of(app)) >= 1
                assert await _left(app, ids) == [False, False]
    finally:
        settings.telemetry_retention_hours = default
