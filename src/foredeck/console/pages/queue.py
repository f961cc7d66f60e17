"""Queue monitor: counts per queue and kind, charts from telemetry history, recent failures."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from foredeck.auth.schemas import Role
from foredeck.console.web import ConsoleRoute, done, page, require
from foredeck.errors import ValidationFailed
from foredeck.jobs import controls as job_controls
from foredeck.jobs import listing as jobs_listing
from foredeck.jobs import registry
from foredeck.jobs import service as jobs_service
from foredeck.jobs.dispatch import publish_after_commit
from foredeck.kit.deps import SessionDep
from foredeck.models.base import utcnow
from foredeck.telemetry import service as telemetry_service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
WINDOWS = {"15m": 900.0, "1h": 3600.0, "24h": 86400.0}
POINTS = 120
# Throughput is counted from finished jobs; past this many in a window the chart says so.
THROUGHPUT_ROWS = 200_000


async def _throughput(session: Any, start: Any, step: float, count: int) -> tuple[list[int], bool]:
    rows = await jobs_listing.finished_since(session, start, limit=THROUGHPUT_ROWS)
    done = [0] * count
    failed = [0] * count
    truncated = False
    n = 0
    for finished_at, status in rows:
        n += 1
        if finished_at.tzinfo is None:
            finished_at = finished_at.replace(tzinfo=start.tzinfo)
        index = min(int((finished_at - start).total_seconds() // step), count - 1)
        if index >= 0:
            (done if status == "succeeded" else failed)[index] += 1
    truncated = n >= THROUGHPUT_ROWS
    return done + failed, truncated


def _handler_queues() -> set[str]:
    """The queues job kinds are registered on, so a queue can be paused before it has jobs."""
    return {spec.queue for spec in registry.HANDLERS.values()}


async def chart_data(request: Request, session: Any, window: float) -> dict[str, Any]:
    """Evenly spaced points for uPlot: depth, running and failures from telemetry history."""
    step = window / POINTS
    now = utcnow()
    start = now - timedelta(seconds=window)
    times = [(start + timedelta(seconds=i * step)).timestamp() for i in range(POINTS)]
    depth: list[float | None] = [None] * POINTS
    running: list[float | None] = [None] * POINTS
    failures: list[float | None] = [None] * POINTS
    hist = await telemetry_service.history(session, window=window, step=step)
    series = hist["series"]
    from datetime import datetime

    for i, stamp in enumerate(series["t"]):
        t = datetime.fromisoformat(stamp)
        if t.tzinfo is None:
            t = t.replace(tzinfo=now.tzinfo)
        index = min(max(round((t - start).total_seconds() / step), 0), POINTS - 1)
        depth[index] = series["queue_depth"][i]
        running[index] = series["running"][i]
        failures[index] = series["failed_last_hour"][i]
    both, truncated = await _throughput(session, start, step, POINTS)
    per_minute = 60.0 / step
    succeeded = [round(v * per_minute, 2) for v in both[:POINTS]]
    failed = [round(v * per_minute, 2) for v in both[POINTS:]]
    return {
        "t": times,
        "depth": depth,
        "running": running,
        "failed_last_hour": failures,
        "succeeded_per_min": succeeded,
        "failed_per_min": failed,
        "truncated": truncated,
    }


@router.get("/ui/queue")
async def queue_page(request: Request, session: SessionDep) -> Response:
    """Pending, running and failed jobs per queue and kind, with charts over a time window."""
    window_key = request.query_params.get("window", "1h")
    if window_key not in WINDOWS:
        window_key = "1h"
    counts = await jobs_service.status_counts(session)
    failures = await jobs_service.recent_failures(session, 10)
    pauses = job_controls.queue_pauses(await job_controls.active_controls(session))
    paused = {p["queue"]: p for p in pauses}
    known = set(counts) | set(paused) | _handler_queues()
    return page(
        request,
        "queue.html",
        "queue",
        title="Queue",
        topics="telemetry,jobs",
        window=window_key,
        windows=list(WINDOWS),
        counts=counts,
        failures=failures,
        queues=[(name, paused.get(name)) for name in sorted(known)],
        can_pause=True,
        charts=await chart_data(request, session, WINDOWS[window_key]),
    )


@router.post("/ui/queue/{queue}/{action}")
async def queue_switch(request: Request, session: SessionDep, queue: str, action: str) -> Response:
    """Pause or resume one queue on every worker: the API's /queues/{queue}/pause|resume."""
    principal = require(request, Role.operator)
    if action not in ("pause", "resume"):
        raise ValidationFailed.field("action", "Choose pause or resume")
    if not re.fullmatch(job_controls.QUEUE_NAME_PATTERN, queue):
        raise ValidationFailed.field("queue", "A queue name is 1-64 letters, digits or _.:-")
    if action == "pause":
        await job_controls.pause_queue(session, queue, by=principal.username)
        message = f"Queue {queue} paused: running jobs finish, no new job of it starts"
    else:
        await job_controls.resume_queue(session, queue)
        message = f"Queue {queue} resumed"
    # Like the API: executors act on a committed "workers" control message.
    publish_after_commit(session, "workers", {"action": f"{action}_queue", "queue": queue,
                                              "control": True})  # fmt: skip
    return done(request, message, back="/ui/queue", **{"fd:queue-changed": True})
