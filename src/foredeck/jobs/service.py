"""Jobs: create (validated, locked, enqueued after commit), read, list, control, events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from foredeck.jobs import controls as job_controls
from foredeck.jobs import listing, locks
from foredeck.jobs.context import event_payload
from foredeck.jobs.dispatch import enqueue_after_commit, publish_after_commit
from foredeck.jobs.registry import HANDLERS, get_spec
from foredeck.jobs.settings import JobSettings
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job, JobEvent, JobRun

MAX_PARAMS_BYTES = 1_000_000


def validate_params(kind: str, params: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
    """(params model or None, JSON-safe params) for a kind; 422 on unknown kind or bad params."""
    spec = get_spec(kind)
    if spec is None:
        known = ", ".join(sorted(HANDLERS)) or "none"
        raise ValidationFailed.field("kind", f"Unknown job kind {kind!r}; known kinds: {known}")
    if params is not None and not isinstance(params, dict):
        raise ValidationFailed.field("params", "params must be an object")
    if spec.params is None:
        return None, dict(params or {})
    try:
        model = spec.params.model_validate(params or {})
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(
            exc, "The job's params are not valid", prefix="params.", empty="params"
        ) from exc
    return model, model.model_dump(mode="json")


async def add_event(
    session: AsyncSession,
    job_id: str,
    kind: str,
    data: dict[str, Any] | None = None,
    *,
    level: str = "info",
    message: str | None = None,
) -> JobEvent:
    ev = JobEvent(job_id=job_id, kind=kind, level=level, message=message, data=data or {})
    session.add(ev)
    await session.flush()
    return ev


def _build_job(
    *,
    kind: str,
    params: dict[str, Any] | None = None,
    created_by: int | None = None,
    queue: str | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    run_after: datetime | None = None,
) -> tuple[Job, JobEvent]:
    """A validated new job and its "queued" event, not yet added to a session."""
    model, clean = validate_params(kind, params)
    spec = get_spec(kind)
    assert spec is not None
    now = utcnow()
    job = Job(
        id=str(uuid.uuid4()),
        kind=kind,
        queue=queue or spec.queue,
        priority=spec.priority if priority is None else priority,
        status="queued",
        params=clean,
        counters={},
        attempts=0,
        max_attempts=max_attempts or spec.max_attempts,
        lock_keys=spec.lock_keys(model),
        created_by=created_by,
        fence=0,
        created_at=now,
        run_after=run_after or now,
    )
    ev = JobEvent(
        job_id=job.id, kind="status", level="info", message="queued", data={"status": "queued"}
    )
    return job, ev


async def _queue(session: AsyncSession, built: list[tuple[Job, JobEvent]]) -> None:
    """Write new jobs and their first events in one flush, take their locks, and have them
    published and handed to the executors once the caller commits."""
    session.add_all([row for pair in built for row in pair])
    await session.flush()
    for job, ev in built:
        if job.lock_keys:
            await locks.acquire_many(session, job.lock_keys, holder_job_id=job.id)
        publish_after_commit(session, "jobs", {**event_payload(ev), "kind_of_job": job.kind})
        enqueue_after_commit(session, job.id, job.queue)


async def create_job(
    session: AsyncSession,
    *,
    kind: str,
    params: dict[str, Any] | None = None,
    created_by: int | None = None,
    queue: str | None = None,
    priority: int | None = None,
    max_attempts: int | None = None,
    run_after: datetime | None = None,
) -> Job:
    """Validate, take the kind's locks for the new job, and queue it once the caller commits."""
    built = _build_job(
        kind=kind,
        params=params,
        created_by=created_by,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        run_after=run_after,
    )
    await refuse_while_draining(session)
    await _queue(session, [built])
    return built[0]


async def refuse_while_draining(session: AsyncSession) -> None:
    if await job_controls.is_draining(session):
        raise ServiceUnavailable(
            "Workers are draining: new jobs are refused until the queue is empty",
            code="WORKERS_DRAINING",
            headers={"Retry-After": "30"},
        )


async def create_jobs(
    session: AsyncSession, items: list[dict[str, Any]], *, created_by: int | None = None
) -> list[Job]:
    """Queue several jobs in the caller's transaction, all or none.

    Every item is checked before any is written, so one bad item names itself (`jobs.3.…`)
    and nothing is queued. The jobs and their first events go in one flush, and jobs that
    commit together also travel together: in Celery mode they share messages.
    """
    details: list[dict[str, Any]] = []
    built: list[tuple[Job, JobEvent]] = []
    takers: dict[str, int] = {}
    for i, item in enumerate(items):
        try:
            job, ev = _build_job(**item, created_by=created_by)
        except ValidationFailed as exc:
            details.extend({**d, "field": f"jobs.{i}.{d['field']}"} for d in exc.details)
            continue
        built.append((job, ev))
        for key in job.lock_keys:
            first = takers.setdefault(key, i)
            if first != i:
                raise Conflict(
                    f"jobs.{first} and jobs.{i} both take the lock {key!r}: one of them has "
                    "to wait for the other, so send it once the first has finished",
                    code="LOCK_HELD",
                    details=[{"field": f"jobs.{i}", "message": f"takes lock {key!r}"}],
                )
    if details:
        raise ValidationFailed(
            "Some jobs of the batch are not valid; none was queued", details=details
        )
    await refuse_while_draining(session)
    await _queue(session, built)
    return [job for job, _ in built]


async def get_job(session: AsyncSession, job_id: str) -> Job:
    """The job, or 404."""
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}")
    return job


def filtered_jobs(
    *,
    status: list[str] | None = None,
    kind: list[str] | None = None,
    queue: list[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: str | None = None,
    created_by: int | None = None,
    worker_id: str | None = None,
) -> Select[Any]:
    """The one filter for listing and bulk control."""
    stmt = select(Job)
    if status:
        stmt = stmt.where(Job.status.in_(status))
    if kind:
        stmt = stmt.where(Job.kind.in_(kind))
    if queue:
        stmt = stmt.where(Job.queue.in_(queue))
    if created_after:
        stmt = stmt.where(Job.created_at >= created_after)
    if created_before:
        stmt = stmt.where(Job.created_at < created_before)
    if created_by is not None:
        stmt = stmt.where(Job.created_by == created_by)
    if q:
        stmt = stmt.where(listing.TextMatch(q))
    if worker_id:
        stmt = stmt.where(Job.worker_id == worker_id)
    return stmt


async def list_jobs(
    session: AsyncSession, stmt: Select[Any], *, offset: int, limit: int, order: Any = None
) -> listing.JobPage:
    """A page of a filter, newest first, with its total (capped; see `listing.count_jobs`)."""
    return await listing.list_jobs(session, stmt, offset=offset, limit=limit, order=order)


async def count_jobs(
    session: AsyncSession, stmt: Select[Any], *, cap: int | None = None
) -> tuple[int, bool]:
    """(total, exact) of a filter; past `cap` it may stop counting (exact=False)."""
    return await listing.count_jobs(session, stmt, cap=cap)


async def list_runs(session: AsyncSession, job_id: str) -> list[JobRun]:
    await get_job(session, job_id)
    rows = await session.execute(select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.id))
    return list(rows.scalars())


async def list_events(
    session: AsyncSession, job_id: str, *, after_id: int = 0, limit: int = 500
) -> list[JobEvent]:
    rows = await session.execute(
        select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.id > after_id)
        .order_by(JobEvent.id)
        .limit(limit)
    )
    return list(rows.scalars())


CONTROL_ACTIONS = ("pause", "resume", "cancel", "retry")


def _not_now(job: Job, action: str) -> Conflict:
    return Conflict(
        f"Cannot {action} a job that is {job.status}",
        code="INVALID_JOB_STATE",
        details=[{"field": "status", "message": job.status}],
    )


def _has_live_worker(job: Job) -> bool:
    return job.worker_id is not None and (
        job.lease_expires_at is not None and job.lease_expires_at > utcnow()
    )


async def control_job(session: AsyncSession, job_id: str, action: str) -> Job:
    """Pause, resume, cancel or retry; 409 with the current status when it does not fit."""
    if action not in CONTROL_ACTIONS:
        raise ValidationFailed.field(
            "action", f"action must be one of {', '.join(CONTROL_ACTIONS)}"
        )
    job = await get_job(session, job_id)
    await session.refresh(job)
    status, now = job.status, utcnow()
    if action == "pause":
        if status not in ("queued", "running"):
            raise _not_now(job, action)
        job.status = "paused"
    elif action == "resume":
        if status != "paused":
            raise _not_now(job, action)
        if _has_live_worker(job):
            job.status = "running"
        else:
            job.status = "queued"
            job.worker_id = None
            job.run_after = now
            enqueue_after_commit(session, job.id, job.queue)
    elif action == "cancel":
        if status in ("cancelled", "succeeded", "failed", "cancelling"):
            raise _not_now(job, action)
        if status == "running" or (status == "paused" and _has_live_worker(job)):
            job.status = "cancelling"
        else:
            job.status = "cancelled"
            job.finished_at = now
            await locks.release_job_locks(session, job.id)
    elif action == "retry":
        if status not in ("failed", "cancelled"):
            raise _not_now(job, action)
        if job.lock_keys:
            await locks.acquire_many(session, job.lock_keys, holder_job_id=job.id)
        job.status = "queued"
        job.attempts = 0
        job.error = None
        job.error_traceback = None
        job.result = None
        job.finished_at = None
        job.worker_id = None
        job.run_after = now
        enqueue_after_commit(session, job.id, job.queue)
    job.updated_at = now
    await session.flush()
    ev = await add_event(
        session, job.id, "status", {"status": job.status, "action": action}, message=action
    )
    payload = event_payload(ev)
    publish_after_commit(session, f"job:{job.id}", payload)
    publish_after_commit(session, "jobs", payload)
    return job


async def bulk_control(
    session: AsyncSession, ids: list[str], action: str
) -> tuple[list[str], list[dict[str, str]]]:
    """Apply one action to many jobs; returns (done ids, [{id, error}]) without aborting."""
    done: list[str] = []
    skipped: list[dict[str, str]] = []
    for job_id in ids:
        # No savepoint: control_job checks the state before it writes anything, and SQLite
        # savepoints would turn the request into a long read-then-write transaction.
        try:
            await control_job(session, job_id, action)
            done.append(job_id)
        except (Conflict, NotFound) as exc:
            skipped.append({"id": job_id, "error": exc.message})
    return done, skipped


async def status_counts(session: AsyncSession) -> dict[str, dict[str, dict[str, int]]]:
    """{queue: {kind: {status: n}}} for queued/running/paused/cancelling/failed jobs."""
    rows = await session.execute(
        select(Job.queue, Job.kind, Job.status, func.count())
        .where(Job.status.in_((*ACTIVE_STATUSES, "failed")))
        .group_by(Job.queue, Job.kind, Job.status)
    )
    out: dict[str, dict[str, dict[str, int]]] = {}
    for queue, kind, status, n in rows.all():
        out.setdefault(queue, {}).setdefault(kind, {})[status] = int(n)
    return out


async def recent_failures(session: AsyncSession, limit: int = 10) -> list[Job]:
    rows = await session.execute(
        select(Job).where(Job.status == "failed").order_by(Job.finished_at.desc()).limit(limit)
    )
    return list(rows.scalars())


async def touch(session: AsyncSession, job_id: str, **values: Any) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def known_kinds(settings: JobSettings | None = None) -> list[dict[str, Any]]:
    return [
        {
            "kind": s.kind,
            "queue": s.queue,
            "max_attempts": s.max_attempts,
            "time_limit_seconds": (
                settings.time_limit(s.kind, s.time_limit) if settings else s.time_limit
            ),
            "locks": list(s.locks) if not callable(s.locks) else ["(from params)"],
            "description": s.description,
            "params_schema": s.params.model_json_schema() if s.params else None,
        }
        for s in sorted(HANDLERS.values(), key=lambda s: s.kind)
    ]
