"""Schedules start-up: the built-in maintenance schedules and the loop that fires due ones.

Every serving process runs the loop; the claim in `firing` makes each fire happen once however
many run it, so there is no beat process to keep alive (or to start twice). `foredeck worker`
processes only run jobs and do not fire schedules.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import IntegrityError

from foredeck.db import transaction
from foredeck.errors import Conflict
from foredeck.jobs import periodic
from foredeck.kit.runtime import Part, Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.schedules import firing, service

log = get_logger(__name__)
# The loop this start-up runs, kept on the runtime for its shutdown.
LOOP: Part[asyncio.Task[None]] = Part("schedule_loop")

# The retention rounds, visible and pausable as schedules. Retention works in days and hours,
# so hourly sweeps keep within the settings (at minutes 7 and 37, apart from each other).
BUILTIN: list[dict[str, Any]] = [
    {
        "name": "job-retention",
        "description": "Delete finished jobs older than the retention.job_days setting",
        "kind": "job_retention",
        "cron": "7 * * * *",
        "misfire": "run_once",
        "overlap": "skip",
    },
    {
        "name": "telemetry-retention",
        "description": "Delete telemetry samples older than retention.telemetry_hours",
        "kind": "telemetry_retention",
        "cron": "37 * * * *",
        "misfire": "run_once",
        "overlap": "skip",
    },
]


async def ensure_builtin(runtime: Runtime) -> None:
    """Store the built-in schedules that are missing (replicas starting together may race)."""
    for spec in BUILTIN:
        try:
            async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
                if await service.get_by_name(session, spec["name"]) is None:
                    await service.create_schedule(
                        session, data=spec, config=runtime.config, builtin=True
                    )
        except (IntegrityError, Conflict):
            # Another process stored it between our look and our insert: its insert lost
            # (IntegrityError), or the name check saw the other's commit (Conflict).
            log.info("builtin_schedule_exists", name=spec["name"])


async def startup(runtime: Runtime) -> None:
    if runtime.worker_process:
        return
    await ensure_builtin(runtime)
    runtime[LOOP] = periodic.start(
        lambda: firing.fire_due(runtime),
        every=runtime.config.schedule_tick_seconds,
        name="schedules",
    )
    runtime.features.add("schedules")


async def shutdown(runtime: Runtime) -> None:
    await stop_tasks(runtime.pop(LOOP))
