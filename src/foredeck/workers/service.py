"""Worker registry: who runs jobs, their pause wishes, and the controls as the API shows them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.errors import Conflict, NotFound
from foredeck.jobs.controls import (
    DRAIN,
    PAUSE_ALL,
    active_controls,
    active_job_count,
    paused_queues,
    set_control,
)
from foredeck.models.base import utcnow
from foredeck.models.jobs import Worker
from foredeck.workers.schemas import ControlsRead

# A worker that missed this many heartbeats is shown as stale.
STALE_AFTER_BEATS = 3


def effective_status(worker: Worker, heartbeat_seconds: float) -> str:
    """The stored status, or stale when the heartbeat stopped."""
    if worker.status == "stopped":
        return "stopped"
    limit = timedelta(seconds=heartbeat_seconds * STALE_AFTER_BEATS)
    if worker.heartbeat_at < utcnow() - limit:
        return "stale"
    return worker.status


async def list_workers(session: AsyncSession, *, include_stopped: bool = True) -> list[Worker]:
    stmt = select(Worker).order_by(Worker.started_at.desc())
    if not include_stopped:
        stmt = stmt.where(Worker.status != "stopped")
    return list((await session.execute(stmt)).scalars())


async def get_worker(session: AsyncSession, worker_id: str) -> Worker:
    worker = await session.get(Worker, worker_id)
    if worker is None:
        raise NotFound(f"No worker {worker_id}")
    return worker


async def set_worker_paused(session: AsyncSession, worker_id: str, paused: bool) -> Worker:
    """Record the wish; the worker applies it at its next loop (and across restarts)."""
    worker = await get_worker(session, worker_id)
    if worker.status == "stopped" and not paused:
        raise Conflict(f"Worker {worker_id} is stopped", code="WORKER_STOPPED")
    worker.paused = paused
    if worker.status in ("running", "paused"):
        worker.status = "paused" if paused else "running"
    await session.flush()
    return worker


async def resume_all(session: AsyncSession) -> None:
    await set_control(session, PAUSE_ALL, False)
    workers = await session.execute(select(Worker).where(Worker.paused.is_(True)))
    for worker in workers.scalars():
        worker.paused = False
        if worker.status == "paused":
            worker.status = "running"
    await session.flush()


async def read_controls(session: AsyncSession) -> ControlsRead:
    """The cluster controls as the API shows them (drain, pause all, paused queues)."""
    controls = await active_controls(session)
    return ControlsRead(
        draining=DRAIN in controls,
        paused_all=PAUSE_ALL in controls,
        paused_queues=sorted(await paused_queues(session)),
        active_jobs=await active_job_count(session),
    )


async def prune_stopped(session: AsyncSession, *, older_than: timedelta) -> int:
    """Forget workers stopped longer ago than `older_than` (their jobs keep the worker id);
    a paused one is kept, so its pause still holds if it comes back."""
    result = await session.execute(
        delete(Worker).where(
            Worker.status == "stopped",
            Worker.paused.is_(False),
            Worker.stopped_at < utcnow() - older_than,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
