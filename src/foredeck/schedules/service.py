"""Schedules: create, change, pause, resume, delete, run now, and list a schedule's runs.

Every face (API, console form, CLI, MCP) goes through `create_schedule` and `update_schedule`,
so one set of checks decides what can be stored: the kind must be schedulable, its params pass
the kind's own params model (as POST /api/v1/jobs checks them), the time zone exists, and the
cron expression or interval fires, but not more often than the configured minimum gap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import Conflict, NotFound, ValidationFailed
from foredeck.jobs import service as jobs_service
from foredeck.jobs.dispatch import publish_after_commit
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from foredeck.models.schedules import Schedule, ScheduleFire
from foredeck.schedules import timing

# Kinds that make sense to repeat. Embedding runs by itself, merges belong to one generation,
# and the registry's and settings' kinds are steps of a single request.
SCHEDULABLE_KINDS = (
    "import",
    "export",
    "index_rebuild",
    "generate",
    "job_retention",
    "telemetry_retention",
    "test",
    "noop",
)
TOPIC = "schedules"


def publish(session: AsyncSession, schedule: Schedule, action: str) -> None:
    """Tell the console's live stream about a change, once the transaction commits."""
    publish_after_commit(
        session,
        TOPIC,
        {
            "kind": "schedule",
            "action": action,
            "schedule_id": schedule.id,
            "name": schedule.name,
            "next_fire_at": schedule.next_fire_at.isoformat() if schedule.next_fire_at else None,
            "last_outcome": schedule.last_outcome,
            "last_job_id": schedule.last_job_id,
        },
    )


def first_fire(
    *,
    cron: str | None,
    interval_seconds: int | None,
    timezone: str,
    config: Config,
    now: datetime,
) -> datetime:
    """Check the timing fields together; the first fire after now."""
    tz = timing.zone(timezone)
    if (cron is None) == (interval_seconds is None):
        raise ValidationFailed.field("cron", "Give either cron or interval_seconds (one of them)")
    gap = config.schedule_min_interval_seconds
    if interval_seconds is not None:
        if interval_seconds < gap:
            raise ValidationFailed.field(
                "interval_seconds",
                f"interval_seconds must be at least {gap} (FOREDECK_SCHEDULE_MIN_INTERVAL_SECONDS)",
            )
        return now + timedelta(seconds=interval_seconds)
    assert cron is not None
    return timing.check_cron(cron.strip(), tz, now=now, min_gap_seconds=gap)


def check_kind(kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The params as the kind's model cleans them; 422 naming `kind` or `params.<field>`."""
    if kind not in SCHEDULABLE_KINDS:
        raise ValidationFailed.field(
            "kind",
            f"Jobs of kind {kind!r} cannot be scheduled; schedulable kinds: "
            + ", ".join(SCHEDULABLE_KINDS),
        )
    _, clean = jobs_service.validate_params(kind, params)
    return clean


async def _name_free(session: AsyncSession, name: str, *, other_than: int | None = None) -> None:
    stmt = select(Schedule.id).where(Schedule.name == name)
    if other_than is not None:
        stmt = stmt.where(Schedule.id != other_than)
    if (await session.execute(stmt)).first() is not None:
        raise Conflict(
            f"A schedule named {name!r} exists",
            code="SCHEDULE_EXISTS",
            details=[{"field": "name", "message": "already used"}],
        )


async def create_schedule(
    session: AsyncSession,
    *,
    data: dict[str, Any],
    config: Config,
    created_by: int | None = None,
    builtin: bool = False,
    now: datetime | None = None,
) -> Schedule:
    """Validate and store a schedule with its first fire time."""
    now = now or utcnow()
    params = check_kind(data["kind"], data.get("params"))
    cron = data.get("cron")
    cron = cron.strip() if cron else None
    nxt = first_fire(
        cron=cron,
        interval_seconds=data.get("interval_seconds"),
        timezone=data.get("timezone") or "UTC",
        config=config,
        now=now,
    )
    await _name_free(session, data["name"])
    schedule = Schedule(
        name=data["name"],
        description=data.get("description"),
        kind=data["kind"],
        params=params,
        cron=cron,
        interval_seconds=data.get("interval_seconds"),
        timezone=data.get("timezone") or "UTC",
        enabled=data.get("enabled", True),
        misfire=data.get("misfire", "run_once"),
        catch_up_max=data.get("catch_up_max", 1),
        overlap=data.get("overlap", "skip"),
        builtin=builtin,
        revision=0,
        pending_runs=0,
        next_fire_at=nxt,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(schedule)
    await session.flush()
    publish(session, schedule, "created")
    return schedule


async def get_schedule(session: AsyncSession, schedule_id: int) -> Schedule:
    """The schedule, or 404."""
    schedule = await session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"No schedule {schedule_id}")
    return schedule


async def get_by_name(session: AsyncSession, name: str) -> Schedule | None:
    return (await session.execute(select(Schedule).where(Schedule.name == name))).scalar()


async def list_schedules(session: AsyncSession) -> list[Schedule]:
    """Every schedule, soonest next fire first (paused ones last)."""
    rows = await session.execute(
        select(Schedule).order_by(
            Schedule.enabled.desc(), Schedule.next_fire_at.asc(), Schedule.name
        )
    )
    return list(rows.scalars())


async def job_statuses(session: AsyncSession, job_ids: list[str]) -> dict[str, str]:
    """The current status of each listed job that still exists."""
    if not job_ids:
        return {}
    rows = await session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids)))
    return {job_id: status for job_id, status in rows.all()}


async def _bump(session: AsyncSession, schedule: Schedule, **values: Any) -> None:
    """Write an edit and raise the revision, so a fire claimed on the old row loses."""
    await session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id)
        .values(revision=Schedule.revision + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(schedule)


async def update_schedule(
    session: AsyncSession,
    *,
    schedule_id: int,
    changes: dict[str, Any],
    config: Config,
    now: datetime | None = None,
) -> Schedule:
    """Apply the sent fields, checked as a whole; the next fire is computed again from now."""
    now = now or utcnow()
    schedule = await get_schedule(session, schedule_id)
    if schedule.builtin:
        for fixed in ("name", "params"):
            if fixed in changes:
                raise ValidationFailed.field(fixed, f"A built-in schedule's {fixed} is fixed")
    values: dict[str, Any] = {}
    if "params" in changes:
        values["params"] = check_kind(schedule.kind, changes["params"])
    if "cron" in changes or "interval_seconds" in changes:
        # Sending one of the two replaces the other.
        values["cron"] = (changes.get("cron") or "").strip() or None
        values["interval_seconds"] = changes.get("interval_seconds")
    for key in ("description", "timezone", "misfire", "catch_up_max", "overlap", "enabled"):
        if key in changes and changes[key] is not None:
            values[key] = changes[key]
    if changes.get("name"):
        await _name_free(session, changes["name"], other_than=schedule.id)
        values["name"] = changes["name"]
    cron = values.get("cron", schedule.cron)
    interval = values.get("interval_seconds", schedule.interval_seconds)
    values["next_fire_at"] = first_fire(
        cron=cron,
        interval_seconds=interval,
        timezone=values.get("timezone", schedule.timezone),
        config=config,
        now=now,
    )
    await _bump(session, schedule, **values)
    publish(session, schedule, "updated")
    return schedule


async def set_enabled(
    session: AsyncSession,
    *,
    schedule_id: int,
    enabled: bool,
    config: Config,
    now: datetime | None = None,
) -> Schedule:
    """Pause or resume. Resuming counts from now: fires missed while paused are not misfires."""
    now = now or utcnow()
    schedule = await get_schedule(session, schedule_id)
    values: dict[str, Any] = {"enabled": enabled}
    if enabled and not schedule.enabled:
        values["next_fire_at"] = first_fire(
            cron=schedule.cron,
            interval_seconds=schedule.interval_seconds,
            timezone=schedule.timezone,
            config=config,
            now=now,
        )
        values["pending_runs"] = 0
    await _bump(session, schedule, **values)
    publish(session, schedule, "resumed" if enabled else "paused")
    return schedule


async def delete_schedule(session: AsyncSession, *, schedule_id: int) -> None:
    """Delete a schedule (its jobs stay); built-in ones can only be paused."""
    schedule = await get_schedule(session, schedule_id)
    if schedule.builtin:
        raise Conflict(
            f"{schedule.name} is built in: pause it instead",
            code="SCHEDULE_BUILTIN",
            details=[{"field": "builtin", "message": "built-in schedules cannot be deleted"}],
        )
    publish(session, schedule, "deleted")
    await session.delete(schedule)
    await session.flush()


async def record_fire(
    session: AsyncSession,
    schedule: Schedule,
    *,
    fire_at: datetime,
    manual: bool = False,
    created_by: int | None = None,
) -> Job:
    """Queue the schedule's job in the caller's transaction and remember which fire it is."""
    job = await jobs_service.create_job(
        session, kind=schedule.kind, params=schedule.params, created_by=created_by
    )
    session.add(
        ScheduleFire(
            schedule_id=schedule.id,
            job_id=job.id,
            fire_at=fire_at,
            manual=manual,
            created_at=utcnow(),
        )
    )
    await session.flush()
    return job


async def run_now(session: AsyncSession, *, schedule_id: int, created_by: int | None = None) -> Job:
    """Queue one run now (paused or not); the regular fire times stay as they are."""
    schedule = await get_schedule(session, schedule_id)
    now = utcnow()
    job = await record_fire(session, schedule, fire_at=now, manual=True, created_by=created_by)
    await _bump(
        session,
        schedule,
        last_job_id=job.id,
        last_fire_at=now,
        last_outcome="queued",
        last_message="run now",
    )
    publish(session, schedule, "fired")
    return job


async def list_runs(
    session: AsyncSession, *, schedule_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    """The schedule's jobs, newest first."""
    await get_schedule(session, schedule_id)
    rows = await session.execute(
        select(ScheduleFire, Job)
        .join(Job, Job.id == ScheduleFire.job_id)
        .where(ScheduleFire.schedule_id == schedule_id)
        .order_by(ScheduleFire.id.desc())
        .limit(limit)
    )
    return [
        {
            "job_id": job.id,
            "fire_at": fire.fire_at,
            "manual": fire.manual,
            "status": job.status,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "error": job.error,
        }
        for fire, job in rows.all()
    ]
