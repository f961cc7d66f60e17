"""The built-in maintenance kinds: the job and telemetry retention sweeps, run as jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from foredeck.db import transaction
from foredeck.jobs import deletion
from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler
from foredeck.kit.runtime import Runtime
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.settings import service as settings_service
from foredeck.workers import service as workers_service

log = get_logger(__name__)


async def sweep_by_settings(runtime: Runtime) -> int:
    """One retention round with the `retention.job_days` setting."""
    async with runtime.sessionmaker() as session:
        retention = await settings_service.get_section(session, "retention")
    # Pools that stopped for good (a suffixed id is never taken again) go with the old jobs.
    async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
        workers = await workers_service.prune_stopped(
            session, older_than=timedelta(days=retention.job_days)
        )
    if workers:
        log.info("worker_retention_sweep", deleted=workers, days=retention.job_days)
    return await deletion.sweep_expired(runtime, days=retention.job_days)


@job_handler("job_retention", queue="default", locks=("retention:jobs",))
async def job_retention(ctx: JobContext) -> dict[str, Any]:
    """Delete finished jobs older than the retention.job_days setting."""
    return {"deleted": await sweep_by_settings(ctx.runtime)}


@job_handler("telemetry_retention", queue="default", locks=("retention:telemetry",))
async def telemetry_retention(ctx: JobContext) -> dict[str, Any]:
    """Delete telemetry samples older than the retention.telemetry_hours setting."""
    from foredeck.telemetry import retention

    return {"deleted": await retention.prune(ctx.runtime)}
