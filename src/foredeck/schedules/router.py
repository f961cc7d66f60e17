"""`/api/v1/schedules`: recurring jobs — CRUD, pause, resume, run now, and their runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from foredeck.auth.deps import Operator, Viewer
from foredeck.jobs.schemas import JobCreated, job_read
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, ok
from foredeck.kit.schemas import DbId
from foredeck.models.schedules import Schedule
from foredeck.schedules import service
from foredeck.schedules.schemas import ScheduleCreate, ScheduleRead, ScheduleRun, ScheduleUpdate

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])


def schedule_read(schedule: Schedule, statuses: dict[str, str] | None = None) -> ScheduleRead:
    read = ScheduleRead.model_validate(schedule, from_attributes=True)
    if statuses and schedule.last_job_id:
        read.last_job_status = statuses.get(schedule.last_job_id)
    return read


async def _read_all(session: Any, schedules: list[Schedule]) -> list[ScheduleRead]:
    ids = [s.last_job_id for s in schedules if s.last_job_id]
    statuses = await service.job_statuses(session, ids)
    return [schedule_read(s, statuses) for s in schedules]


@router.get("", response_model=Envelope[list[ScheduleRead]])
async def list_schedules(_: Viewer, session: SessionDep) -> Any:
    """Every schedule with its next fire time and last outcome, soonest first."""
    return ok(await _read_all(session, await service.list_schedules(session)))


@router.post("", response_model=Envelope[ScheduleRead], status_code=201)
async def create_schedule(
    body: ScheduleCreate, user: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Store a schedule: a job kind, its params (checked by the kind), and a cron or interval."""
    schedule = await service.create_schedule(
        session, data=body.model_dump(), config=config, created_by=user.user_id
    )
    return ok(schedule_read(schedule))


@router.get("/{schedule_id}", response_model=Envelope[ScheduleRead])
async def get_schedule(schedule_id: DbId, _: Viewer, session: SessionDep) -> Any:
    """One schedule."""
    [read] = await _read_all(session, [await service.get_schedule(session, schedule_id)])
    return ok(read)


@router.patch("/{schedule_id}", response_model=Envelope[ScheduleRead])
async def update_schedule(
    schedule_id: DbId, body: ScheduleUpdate, _: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Change a schedule; its next fire is computed again from now."""
    schedule = await service.update_schedule(
        session, schedule_id=schedule_id, changes=body.model_dump(exclude_unset=True), config=config
    )
    return ok(schedule_read(schedule))


@router.delete("/{schedule_id}", status_code=204, response_class=Response)
async def delete_schedule(schedule_id: DbId, _: Operator, session: SessionDep) -> Response:
    """Delete a schedule (its jobs stay); built-in schedules are paused instead (409)."""
    await service.delete_schedule(session, schedule_id=schedule_id)
    return Response(status_code=204)


@router.post("/{schedule_id}/pause", response_model=Envelope[ScheduleRead])
async def pause_schedule(
    schedule_id: DbId, _: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Stop firing until resumed (kept across restarts)."""
    schedule = await service.set_enabled(
        session, schedule_id=schedule_id, enabled=False, config=config
    )
    return ok(schedule_read(schedule))


@router.post("/{schedule_id}/resume", response_model=Envelope[ScheduleRead])
async def resume_schedule(
    schedule_id: DbId, _: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Fire again from now on (fires missed while paused are not made up)."""
    schedule = await service.set_enabled(
        session, schedule_id=schedule_id, enabled=True, config=config
    )
    return ok(schedule_read(schedule))


@router.post("/{schedule_id}/run-now", response_model=Envelope[JobCreated], status_code=202)
async def run_schedule_now(schedule_id: DbId, user: Operator, session: SessionDep) -> Any:
    """Queue one run now; the regular fire times stay as they are."""
    job = await service.run_now(session, schedule_id=schedule_id, created_by=user.user_id)
    read = job_read(job)
    return ok(JobCreated(job_id=read.id, status=read.status, job=read))


@router.get("/{schedule_id}/runs", response_model=Envelope[list[ScheduleRun]])
async def schedule_runs(
    schedule_id: DbId,
    _: Viewer,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """The jobs this schedule queued, newest first."""
    runs = await service.list_runs(session, schedule_id=schedule_id, limit=limit)
    return ok([ScheduleRun.model_validate(r) for r in runs])
