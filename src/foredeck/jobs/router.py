"""`/api/v1/jobs`, `/api/v1/queue` and `/api/v1/locks`: create, inspect and control jobs.

Everything under `/api/v1/jobs/{job_id}` is routed here; what only some kinds have (a file to
download, a generated dataset's chunks) is answered by the provider their kind registers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent

from foredeck.errors import NotFound, ValidationFailed
from foredeck.jobs import controls as job_controls
from foredeck.jobs import deletion, outputs, resources
from foredeck.jobs import locks as locks_service
from foredeck.jobs import service as jobs_service
from foredeck.jobs.feeds import JOB_FEEDS, RECONNECT
from foredeck.jobs.schemas import (
    STATUS_ALIASES,
    BulkControlBody,
    BulkResult,
    ControlBody,
    EventRead,
    JobBatchCreate,
    JobCreate,
    JobCreated,
    JobRead,
    JobStatusFilter,
    KindRead,
    LockRead,
    QueueStats,
    QueueSummary,
    RunRead,
    TestJobCreate,
    job_read,
)
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, Paged, ok, paged
from foredeck.kit.pagination import Pagination
from foredeck.kit.roles import Admin, Operator, Viewer
from foredeck.kit.runtime import RuntimeDep
from foredeck.kit.sse import SSE_RESPONSES, int_event_id, reconnect_event, sse_event, sse_response
from foredeck.models.jobs import Job

router = APIRouter(prefix="/api/v1", tags=["jobs"])


def _job_created(job: Any) -> JobCreated:
    read = job_read(job)
    return JobCreated(job_id=read.id, status=read.status, job=read)


def _created(job: Any) -> dict[str, Any]:
    return ok(_job_created(job))


@router.post("/jobs", response_model=Envelope[JobCreated], status_code=202)
async def create_job(body: JobCreate, user: Operator, session: SessionDep) -> Any:
    """Queue a job of a registered kind; params are validated for that kind."""
    job = await jobs_service.create_job(
        session,
        kind=body.kind,
        params=body.params,
        created_by=user.user_id,
        queue=body.queue,
        priority=body.priority,
        max_attempts=body.max_attempts,
    )
    return _created(job)


@router.post("/jobs/batch", response_model=Envelope[list[JobCreated]], status_code=202)
async def create_jobs(body: JobBatchCreate, user: Operator, session: SessionDep) -> Any:
    """Queue up to 1,000 jobs in one transaction: all of them, or none with the reason per item.

    Cheaper than one request per job, and in Celery mode the jobs share messages.
    """
    jobs = await jobs_service.create_jobs(
        session, [item.model_dump() for item in body.jobs], created_by=user.user_id
    )
    return ok([_job_created(job) for job in jobs])


@router.post("/jobs/test", response_model=Envelope[JobCreated], status_code=202)
async def create_test_job(
    user: Operator, session: SessionDep, body: TestJobCreate | None = None
) -> Any:
    """Queue a real job that counts with progress (checks the task queue end to end)."""
    body = body or TestJobCreate()
    job = await jobs_service.create_job(
        session, kind="test", params=body.model_dump(), created_by=user.user_id
    )
    return _created(job)


@router.get("/jobs", response_model=Paged[JobRead])
async def list_jobs(
    _: Viewer,
    session: SessionDep,
    page: Pagination,
    status: Annotated[
        list[JobStatusFilter] | None,
        Query(description="pending and completed stand for queued and succeeded"),
    ] = None,
    kind: Annotated[list[str] | None, Query()] = None,
    queue: Annotated[list[str] | None, Query()] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    created_by: int | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Any:
    """Jobs, newest first, filtered by status, kind, queue, creation time and text.

    `meta.total` is exact up to 10,000 matches (or whenever an index counts it cheaply); past
    that it is 10,000 with `meta.total_exact` false.
    """
    stmt = jobs_service.filtered_jobs(
        status=[STATUS_ALIASES.get(s, s) for s in status] if status else None,
        kind=kind,
        queue=queue,
        created_after=created_after,
        created_before=created_before,
        created_by=created_by,
        q=q,
    )
    found = await jobs_service.list_jobs(session, stmt, offset=page.offset, limit=page.per_page)
    return paged(
        [job_read(j) for j in found.rows],
        page=page.page,
        per_page=page.per_page,
        total=found.total,
        exact=found.exact,
    )


@router.get("/jobs/kinds", response_model=Envelope[list[KindRead]])
async def job_kinds(_: Viewer, runtime: RuntimeDep) -> Any:
    """The registered job kinds with their queue, attempts, time limit, locks and params."""
    return ok(jobs_service.known_kinds(runtime[JOB_SETTINGS]))


@router.post("/jobs/bulk", response_model=Envelope[BulkResult])
async def bulk_control(
    body: BulkControlBody, _: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Apply one action (or delete) to a list of job ids or to every job matching a filter.

    Jobs the action does not fit (or, for delete, that have not finished) are skipped with why.
    """
    if (body.ids is None) == (body.filter is None):
        raise ValidationFailed.field("ids", "Give either ids or filter")
    ids = body.ids
    if ids is None:
        assert body.filter is not None
        f = body.filter
        stmt = jobs_service.filtered_jobs(
            status=list(f.status) if f.status else None,
            kind=f.kind,
            queue=f.queue,
            created_after=f.created_after,
            created_before=f.created_before,
        )
        found = await jobs_service.list_jobs(session, stmt, offset=0, limit=body.limit)
        ids = [j.id for j in found.rows]
    if body.action == "delete":
        done, skipped = await deletion.delete_jobs(session, ids, data_dir=config.data_dir)
    else:
        done, skipped = await jobs_service.bulk_control(session, ids, body.action)
    return ok(BulkResult(action=body.action, matched=len(ids), changed=done, skipped=skipped))


@router.get("/jobs/{job_id}", response_model=Envelope[JobRead])
async def get_job(job_id: str, _: Viewer, session: SessionDep) -> Any:
    """One job with its progress, result or error."""
    return ok(job_read(await jobs_service.get_job(session, job_id)))


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response)
async def delete_job(job_id: str, _: Operator, session: SessionDep, config: ConfigDep) -> Response:
    """Delete a finished job with its runs, events and files (409 while it is not finished)."""
    await deletion.delete_job(session, job_id, data_dir=config.data_dir)
    return Response(status_code=204)


@router.get("/jobs/{job_id}/runs", response_model=Envelope[list[RunRead]])
async def job_runs(job_id: str, _: Viewer, session: SessionDep) -> Any:
    """Each attempt: worker, start, end, duration, exit status, result or error."""
    runs = await jobs_service.list_runs(session, job_id)
    return ok([RunRead.model_validate(r, from_attributes=True) for r in runs])


# Tagged telemetry too: the API docs list it beside the other live streams.
@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses=SSE_RESPONSES,
    tags=["telemetry"],
)
async def job_events(request: Request, runtime: RuntimeDep, job_id: str, _: Viewer) -> Any:
    """A job's events over SSE, in order, resuming after Last-Event-ID; ends when the job ends."""
    # A session of its own, closed before the stream starts: a stream may run for hours.
    async with runtime.sessionmaker() as session:
        if (await session.execute(select(Job.id).where(Job.id == job_id))).scalar() is None:
            raise NotFound(f"No job {job_id}")
    after = int_event_id(request)
    settings = runtime[JOB_SETTINGS]

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for ev in runtime[JOB_FEEDS].watch(job_id, after, seconds=settings.sse_max_seconds):
            if ev is RECONNECT:
                yield reconnect_event()
                return
            yield sse_event(ev, event=ev["kind"], id=ev["id"])
        yield sse_event({"job_id": job_id}, event="end")

    return sse_response(events(), ping_seconds=settings.sse_ping_seconds)


@router.get("/jobs/{job_id}/events/history", response_model=Envelope[list[EventRead]])
async def job_event_history(
    job_id: str,
    _: Viewer,
    session: SessionDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    """A job's persisted events after an event id (the SSE stream's content, as JSON)."""
    await jobs_service.get_job(session, job_id)
    events = await jobs_service.list_events(session, job_id, after_id=after, limit=limit)
    return ok([EventRead.model_validate(e, from_attributes=True) for e in events])


@router.post("/jobs/{job_id}/control", response_model=Envelope[JobRead])
async def control_job(job_id: str, body: ControlBody, _: Operator, session: SessionDep) -> Any:
    """Pause, resume, cancel or retry a job (409 with the current status when it does not fit)."""
    job = await jobs_service.control_job(session, job_id, body.action)
    return ok(job_read(job))


@router.get("/queue", response_model=Envelope[QueueSummary], tags=["workers"])
async def queue_summary(_: Viewer, session: SessionDep) -> Any:
    """Pending, running and failed counts per queue and kind, and recent failures."""
    counts = await jobs_service.status_counts(session)
    controls = await job_controls.active_controls(session)
    queues = []
    for name in sorted(set(counts) | await job_controls.paused_queues(session)):
        by_kind = counts.get(name, {})

        def total(status: str, kinds: dict[str, dict[str, int]] = by_kind) -> int:
            return sum(k.get(status, 0) for k in kinds.values())

        queues.append(
            QueueStats(
                queue=name,
                paused=f"{job_controls.QUEUE_PREFIX}{name}" in controls,
                pending=total("queued"),
                running=total("running") + total("cancelling"),
                paused_jobs=total("paused"),
                failed=total("failed"),
                by_kind=by_kind,
            )
        )
    failures = await jobs_service.recent_failures(session)
    return ok(
        QueueSummary(
            draining=job_controls.DRAIN in controls,
            paused_all=job_controls.PAUSE_ALL in controls,
            queues=queues,
            recent_failures=[job_read(j) for j in failures],
        )
    )


@router.get("/locks", response_model=Envelope[list[LockRead]], tags=["locks"])
async def list_locks(_: Viewer, session: SessionDep) -> Any:
    """Advisory locks with their holder, lease and fencing token."""
    return ok([locks_service.lock_read(lock) for lock in await locks_service.list_locks(session)])


@router.delete("/locks/{name}", response_model=Envelope[LockRead], tags=["locks"])
async def free_lock(name: str, _: Admin, session: SessionDep, request: Request) -> Any:
    """Free a stuck lock (admin); its old holder can no longer renew or release it."""
    lock = await locks_service.force_release(session, name)
    return ok(locks_service.lock_read(lock))


@router.get(
    "/jobs/{job_id}/download",
    response_class=FileResponse,
    tags=["jobs"],
    responses={
        200: {
            "description": "The job's file, in the media type of its format",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in outputs.MEDIA_TYPES
            },
        }
    },
)
async def download_job_output(
    job_id: str,
    runtime: RuntimeDep,
    _: Viewer,
    session: SessionDep,
    format: str | None = None,
) -> Response:
    """The file a finished job wrote: an export, or a generated dataset (?format=csv, ...)."""
    job = await jobs_service.get_job(session, job_id)
    found = await outputs.resolve(runtime, job, {"format": format} if format else {})
    return outputs.respond(runtime, found)


def mount(app: FastAPI) -> None:
    """The routes some kinds' jobs have, once the kinds are registered (their models with them)."""
    app.include_router(resources.resource_router(viewer=Viewer, operator=Operator))
