"""Workers: the registry table, per-worker pause/resume and the cluster switches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.auth.schemas import Role
from foredeck.console import data
from foredeck.console.web import ConsoleRoute, done, page, publish_after, require
from foredeck.errors import ValidationFailed
from foredeck.jobs import controls as job_controls
from foredeck.jobs import locks as job_locks
from foredeck.kit.deps import SessionDep
from foredeck.workers import service as workers_service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

CLUSTER_SWITCHES: dict[str, Callable[[AsyncSession], Awaitable[Any]]] = {
    "pause_all": job_controls.pause_all,
    "resume_all": workers_service.resume_all,
    "undrain": job_controls.undrain,
}
CLUSTER_ACTIONS = {
    "pause-all": ("pause_all", "Paused every worker: running jobs finish, no new job starts"),
    "resume-all": ("resume_all", "Resumed every worker"),
    "drain": ("drain", "Draining: new jobs are refused until the queue is empty"),
    "undrain": ("undrain", "Drain ended: new jobs are accepted again"),
}


async def _context(request: Request, session: Any) -> dict[str, Any]:
    rows = await data.worker_rows(request, session)
    controls = await job_controls.active_controls(session)
    queue_depth = await data.queue_summary(request, session)
    return {
        "rows": rows,
        "draining": "drain" in controls,
        "drain_info": controls.get("drain") or {},
        "pause_all": "pause_all" in controls,
        "queue_pauses": job_controls.queue_pauses(controls),
        "queue": queue_depth,
        "stale_after": data.heartbeat_seconds(request) * 3,
        "locks": await _lock_rows(session),
    }


async def _lock_rows(session: Any) -> list[dict[str, Any]] | None:
    locks = job_locks
    return [
        {
            "name": lock.name,
            "held": locks.is_held(lock),
            "job_id": lock.holder_job_id,
            "holder": lock.holder,
            "since": lock.acquired_at,
            "until": lock.expires_at,
            "fence": lock.fence,
        }
        for lock in await locks.list_locks(session)
    ]


@router.get("/ui/workers")
async def workers_page(request: Request, session: SessionDep) -> Response:
    """Every worker with its status, counters, current job and heartbeat."""
    context = await _context(request, session)
    return page(
        request,
        "workers.html",
        "workers",
        title="Workers",
        topics="workers,jobs,telemetry",
        **context,
    )


@router.post("/ui/workers/control")
async def worker_control(request: Request, session: SessionDep) -> Response:
    """Pause or resume one worker."""
    require(request, Role.operator)
    form = await request.form()
    worker_id = str(form.get("worker_id") or "")
    action = str(form.get("action") or "")
    if action not in ("pause", "resume"):
        raise ValidationFailed.field("action", "Choose pause or resume")
    if not worker_id:
        raise ValidationFailed.field("worker_id", "Name a worker")
    worker = await workers_service.set_worker_paused(session, worker_id, action == "pause")
    message = f"Worker {worker_id}: {'paused' if worker.paused else 'resumed'}"
    response = done(request, message, back="/ui/workers", **{"fd:workers-changed": True})
    return publish_after(response, request, "workers", {"worker": worker_id, "action": action})


@router.post("/ui/locks/release")
async def release_lock(request: Request, session: SessionDep) -> Response:
    """Free a stuck lock (admin): the API's force release."""
    require(request, Role.admin)
    locks = job_locks
    name = str((await request.form()).get("name") or "")
    if not name:
        raise ValidationFailed.field("name", "Name a lock")
    await locks.force_release(session, name)
    message = f"Lock {name} released: its old holder can no longer renew or release it"
    response = done(request, message, back="/ui/workers", **{"fd:workers-changed": True})
    return publish_after(response, request, "workers", {"lock": name, "action": "release"})


@router.post("/ui/workers/{action}")
async def cluster_control(request: Request, session: SessionDep, action: str) -> Response:
    """Pause all, resume all, drain or undrain."""
    principal = require(request, Role.operator)
    if action not in CLUSTER_ACTIONS:
        raise ValidationFailed.field("action", "Unknown worker action")
    name, message = CLUSTER_ACTIONS[action]
    if name == "drain":
        await job_controls.drain(session, by=principal.username)
    else:
        await CLUSTER_SWITCHES[name](session)
    response = done(request, message, back="/ui/workers", **{"fd:workers-changed": True})
    return publish_after(response, request, "workers", {"action": action})
