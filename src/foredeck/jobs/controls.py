"""Cluster switches of the job engine (drain, pause-all, paused queues), kept in the database.

Every executor and the enqueue path read them, so they live with the jobs rather than with a
worker runtime; the workers domain shows and sets them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job, WorkerControl

DRAIN = "drain"
PAUSE_ALL = "pause_all"
QUEUE_PREFIX = "queue:"
# What a queue may be called (the API path checks it; the console form does too).
QUEUE_NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


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


async def pause_all(session: AsyncSession) -> None:
    await set_control(session, PAUSE_ALL, True, {"since": utcnow().isoformat()})
