"""The built-in maintenance kinds: the job and telemetry retention sweeps, run as jobs."""

from __future__ import annotations

from typing import Any

from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler


@job_handler("job_retention", queue="default", locks=("retention:jobs",))
async def job_retention(ctx: JobContext) -> dict[str, Any]:
    """Delete finished jobs older than the retention.job_days setting."""
    from foredeck.jobs import deletion

    return {"deleted": await deletion.sweep_by_settings(ctx.state)}


@job_handler("telemetry_retention", queue="default", locks=("retention:telemetry",))
async def telemetry_retention(ctx: JobContext) -> dict[str, Any]:
    """Delete telemetry samples older than the retention.telemetry_hours setting."""
    from foredeck.telemetry import retention

    return {"deleted": await retention.prune(ctx.state)}
