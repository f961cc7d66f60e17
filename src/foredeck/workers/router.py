"""`/api/v1/workers` and `/api/v1/queues`: list workers, pause / resume / drain, queue switches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from foredeck.jobs import controls as job_controls
from foredeck.jobs.dispatch import publish_after_commit
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.deps import SessionDep
from foredeck.kit.envelope import Envelope, ok
from foredeck.kit.roles import Operator, Viewer
from foredeck.kit.runtime import get_runtime
from foredeck.workers import service as workers_service
from foredeck.workers.schemas import ControlsRead, WorkerRead, worker_read

router = APIRouter(prefix="/api/v1", tags=["workers"])
QueueName = Annotated[str, Path(pattern=job_controls.QUEUE_NAME_PATTERN)]


def _beat(request: Request) -> float:
    return float(get_runtime(request)[JOB_SETTINGS].worker_heartbeat_seconds)


def _after_change(session: Any, what: dict[str, Any]) -> None:
    """Tell executors and listeners once the change has committed (they act on "workers")."""
    publish_after_commit(session, "workers", {**what, "control": True})


@router.get("/workers", response_model=Envelope[list[WorkerRead]])
async def list_workers(
    request: Request, _: Viewer, session: SessionDep, include_stopped: bool = True
) -> Any:
    """Workers with status (running, paused, draining, stopped, stale), counters and heartbeat."""
    beat = _beat(request)
    workers = await workers_service.list_workers(session, include_stopped=include_stopped)
    return ok(
        [worker_read(w, workers_service.effective_status(w, beat)) for w in workers],
        meta={"controls": (await workers_service.read_controls(session)).model_dump()},
    )


@router.get("/workers/controls", response_model=Envelope[ControlsRead])
async def controls(_: Viewer, session: SessionDep) -> Any:
    """Drain, pause-all and paused queues (kept in the database across restarts)."""
    return ok(await workers_service.read_controls(session))


@router.post("/workers/pause-all", response_model=Envelope[ControlsRead])
async def pause_all(_: Operator, session: SessionDep) -> Any:
    """Stop every worker from starting jobs; running jobs finish."""
    await job_controls.pause_all(session)
    _after_change(session, {"action": "pause_all"})
    return ok(await workers_service.read_controls(session))


@router.post("/workers/resume-all", response_model=Envelope[ControlsRead])
async def resume_all(_: Operator, session: SessionDep) -> Any:
    """Let every worker start jobs again (clears per-worker pauses too)."""
    await workers_service.resume_all(session)
    _after_change(session, {"action": "resume_all"})
    return ok(await workers_service.read_controls(session))


@router.post("/workers/drain", response_model=Envelope[ControlsRead])
async def drain(user: Operator, session: SessionDep) -> Any:
    """Refuse new jobs (503 WORKERS_DRAINING) until the queue is empty, then end by itself."""
    await job_controls.drain(session, by=user.username)
    _after_change(session, {"action": "drain"})
    return ok(await workers_service.read_controls(session))


@router.post("/workers/undrain", response_model=Envelope[ControlsRead])
async def undrain(_: Operator, session: SessionDep) -> Any:
    """End a drain now: new jobs are accepted again."""
    await job_controls.undrain(session)
    _after_change(session, {"action": "undrain"})
    return ok(await workers_service.read_controls(session))


@router.get("/workers/{worker_id}", response_model=Envelope[WorkerRead])
async def get_worker(worker_id: str, request: Request, _: Viewer, session: SessionDep) -> Any:
    """One worker."""
    worker = await workers_service.get_worker(session, worker_id)
    return ok(worker_read(worker, workers_service.effective_status(worker, _beat(request))))


@router.post("/workers/{worker_id}/pause", response_model=Envelope[WorkerRead])
async def pause_worker(
    worker_id: str,
    request: Request,
    _: Operator,
    session: SessionDep,
) -> Any:
    """Stop this worker from starting jobs (kept across its restarts)."""
    worker = await workers_service.set_worker_paused(session, worker_id, True)
    _after_change(session, {"action": "pause", "worker": worker_id})
    return ok(worker_read(worker, workers_service.effective_status(worker, _beat(request))))


@router.post("/workers/{worker_id}/resume", response_model=Envelope[WorkerRead])
async def resume_worker(
    worker_id: str,
    request: Request,
    _: Operator,
    session: SessionDep,
) -> Any:
    """Let this worker start jobs again."""
    worker = await workers_service.set_worker_paused(session, worker_id, False)
    _after_change(session, {"action": "resume", "worker": worker_id})
    return ok(worker_read(worker, workers_service.effective_status(worker, _beat(request))))


@router.post("/queues/{queue}/pause", response_model=Envelope[ControlsRead])
async def pause_queue(
    queue: QueueName,
    request: Request,
    principal: Operator,
    session: SessionDep,
) -> Any:
    """Stop starting jobs of one queue on every worker."""
    await job_controls.pause_queue(session, queue, by=principal.username)
    _after_change(session, {"action": "pause_queue", "queue": queue})
    return ok(await workers_service.read_controls(session))


@router.post("/queues/{queue}/resume", response_model=Envelope[ControlsRead])
async def resume_queue(
    queue: QueueName,
    request: Request,
    _: Operator,
    session: SessionDep,
) -> Any:
    """Start jobs of this queue again."""
    await job_controls.resume_queue(session, queue)
    _after_change(session, {"action": "resume_queue", "queue": queue})
    return ok(await workers_service.read_controls(session))
