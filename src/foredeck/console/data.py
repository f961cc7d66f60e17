"""Read-side helpers shared by several console pages, built on the domains' services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.index import service as index_service
from foredeck.index.parts import INDEX_MANAGER
from foredeck.jobs import controls as job_controls
from foredeck.jobs import listing as jobs_listing
from foredeck.jobs import locks as job_locks
from foredeck.jobs import service as jobs_service
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import get_runtime
from foredeck.models.base import utcnow
from foredeck.workers import service as workers_service

OPERATION_KINDS = ("import", "export", "index_rebuild")
LOCK_FOR_KIND = {"import": "import", "export": "export", "index_rebuild": "index"}


def heartbeat_seconds(request: Request) -> float:
    settings = get_runtime(request).get(JOB_SETTINGS)
    return float(getattr(settings, "worker_heartbeat_seconds", 5.0))


async def worker_rows(request: Request, session: AsyncSession) -> list[dict[str, Any]] | None:
    """Workers with their effective status (stale when the heartbeat stopped)."""
    beat = heartbeat_seconds(request)
    rows = []
    for w in await workers_service.list_workers(session):
        status = workers_service.effective_status(w, beat)
        rows.append(
            {
                "id": w.id,
                "role": w.role,
                "host": w.host,
                "pid": w.pid,
                "queues": w.queues or [],
                "status": status,
                "paused": w.paused,
                "stale": status == "stale",
                "processed": w.processed,
                "failed": w.failed,
                "running_jobs": w.running_jobs,
                "concurrency": w.concurrency,
                "current_job_id": w.current_job_id,
                "heartbeat_at": w.heartbeat_at,
                "started_at": w.started_at,
            }
        )
    return rows


async def worker_summary(request: Request, session: AsyncSession) -> dict[str, Any] | None:
    rows = await worker_rows(request, session)
    if rows is None:
        return None
    counts = {s: 0 for s in ("running", "paused", "draining", "stale", "stopped")}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    draining = await job_controls.is_draining(session)
    return {"counts": counts, "draining": draining, "total": len(rows)}


async def queue_summary(request: Request, session: AsyncSession) -> dict[str, Any] | None:
    counts = await jobs_service.status_counts(session)
    pending = running = 0
    for kinds in counts.values():
        for statuses in kinds.values():
            pending += statuses.get("queued", 0)
            running += statuses.get("running", 0)
    since = utcnow() - timedelta(hours=1)
    failed_hour = await jobs_listing.failed_since(session, since)
    return {"pending": pending, "running": running, "failed_hour": failed_hour}


async def last_job(session: AsyncSession, kind: str) -> dict[str, Any] | None:
    """The latest job of a kind: when, how long, how it ended, and who started it."""
    row = await jobs_listing.latest_of_kind(session, kind)
    if row is None:
        return None
    job, username = row
    duration = None
    if job.started_at and job.finished_at:
        duration = (job.finished_at - job.started_at).total_seconds()
    return {"job": job, "by": username or "system", "duration": duration}


async def lock_holder(session: AsyncSession, name: str) -> dict[str, Any] | None:
    """Who holds an operation's lock right now (job id or process), or None."""
    lock = await job_locks.live_lock(session, name)
    if lock is None:
        return None
    return {"name": name, "job_id": lock.holder_job_id, "holder": lock.holder}


async def index_stats(request: Request, session: AsyncSession) -> dict[str, Any] | None:
    """The index's figures from the index domain, or None where it is not running."""
    if get_runtime(request).get(INDEX_MANAGER) is None:
        return None
    result = await index_service.stats(session, get_runtime(request))
    dumped: dict[str, Any] = result.model_dump()
    return dumped
