"""Worker registry and cluster switches (drain, pause-all, paused queues), all in the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.errors import Conflict, NotFound
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job, Worker, WorkerControl
from foredeck.workers.schemas import ControlsRead

DRAIN = "drain"
PAUSE_ALL = "pause_all"
QUEUE_PREFIX = "queue:"
# What a queue may be called (the API path checks it; the console form does too).
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
# A worker that missed this many heartbeats is shown as stale.
STALE_AFTER_BEATS = 3


async def get_control(session: AsyncSession, name: str) -> WorkerControl | None:
    return await session.get(WorkerControl, name)


async def set_control(
    session: AsyncSession, name: str, active: bool, data: dict[str, Any] | None = None
) -> WorkerControl:
    """Switch a cluster-wide control on or off (kept across restarts)."""
    control = await session.get(WorkerControl, name)
    if control is None:
        control = WorkerControl(name=name, active=active, data=data or {})
        session.add(control)
    else:
        control.active = active
        control.data = data or {}
        control.updated_at = utcnow()
    await session.flush()
    return control


async def active_controls(session: AsyncSession) -> dict[str, dict[str, Any]]:
    rows = await session.execute(
        select(WorkerControl.name, WorkerControl.data).where(WorkerControl.active.is_(True))
    )
    return {name: data for name, data in rows.all()}


async def is_draining(session: AsyncSession) -> bool:
    control = await get_control(session, DRAIN)
    return bool(control and control.active)


async def paused_queues(session: AsyncSession) -> set[str]:
    return {pause["queue"] for pause in queue_pauses(await active_controls(session))}


def queue_pauses(controls: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """From `active_controls`: each paused queue with who paused it, since when, and whether
    an operation did (and resumes it when it ends)."""
    return [
        {"queue": name[len(QUEUE_PREFIX) :], **(data or {})}
        for name, data in sorted(controls.items())
        if name.startswith(QUEUE_PREFIX)
    ]


async def pause_queue(
    session: AsyncSession, queue: str, *, by: str | None = None, automatic: bool = False
) -> None:
    """Stop every worker from starting jobs of this queue (running ones finish)."""
    data = {"since": utcnow().isoformat(), "by": by, "automatic": automatic}
    await set_control(session, QUEUE_PREFIX + queue, True, data)


async def resume_queue(session: AsyncSession, queue: str) -> None:
    """Let workers start jobs of this queue again."""
    await set_control(session, QUEUE_PREFIX + queue, False)


async def drain(session: AsyncSession, *, by: str | None = None) -> WorkerControl:
    """Refuse new jobs until the queue is empty (or undrain)."""
    return await set_control(session, DRAIN, True, {"since": utcnow().isoformat(), "by": by})


async def undrain(session: AsyncSession) -> WorkerControl:
    return await set_control(session, DRAIN, False)


async def active_job_count(session: AsyncSession) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE_STATUSES))
            )
        ).scalar_one()
    )


async def finish_drain_if_empty(session: AsyncSession) -> bool:
    """End a drain once no job is queued or running; True when it ended now."""
    if not await is_draining(session):
        return False
    if await active_job_count(session) > 0:
        return False
    await undrain(session)
    return True


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


async def pause_all(session: AsyncSession) -> None:
    await set_control(session, PAUSE_ALL, True, {"since": utcnow().isoformat()})


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
