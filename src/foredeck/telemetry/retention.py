"""Telemetry retention: samples older than `retention.telemetry_hours` are deleted.

The operator's setting wins, read at every round; while it is unset, the server's default
applies (FOREDECK_TELEMETRY_RETENTION_HOURS). The rounds run as the built-in
`telemetry-retention` schedule (hourly, at minute 37), one job per round in the whole cluster.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.db import transaction
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import Runtime
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import TelemetrySample
from foredeck.settings import service as settings_service

log = get_logger(__name__)

# Rows per delete: a shortened window may leave millions, and SQLite has one writer.
DELETE_CHUNK = 5000


async def retention_hours(session: AsyncSession, *, default: float) -> float:
    """How many hours of samples to keep: the setting when an operator stored one."""
    if "retention" not in await settings_service.stored_keys(session):
        return float(default)
    section = await settings_service.get_section(session, "retention")
    return float(section.telemetry_hours)


async def prune(runtime: Runtime) -> int:
    """Delete the samples older than the retention window; how many went."""
    async with runtime.sessionmaker() as session:
        hours = await retention_hours(
            session, default=runtime[JOB_SETTINGS].telemetry_retention_hours
        )
    cutoff = utcnow() - timedelta(hours=hours)
    total = 0
    while True:
        async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
            oldest = (
                select(TelemetrySample.id)
                .where(TelemetrySample.created_at < cutoff)
                .order_by(TelemetrySample.created_at)
                .limit(DELETE_CHUNK)
            )
            result = await session.execute(
                delete(TelemetrySample)
                .where(TelemetrySample.id.in_(oldest.scalar_subquery()))
                .execution_options(synchronize_session=False)
            )
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < DELETE_CHUNK:
            break
        await asyncio.sleep(0)
    if total:
        log.info("telemetry_retention_sweep", deleted=total, hours=hours)
    return total
