"""Firing due schedules exactly once, from any number of processes, without a beat.

Each serving process looks for due schedules every few seconds. A fire is one transaction:
a conditional UPDATE claims the row by the revision it read (only one claimer can match it;
on PostgreSQL the loser waits on the row lock and then matches nothing, on SQLite the write
lock orders them the same way), the job is created, and `next_fire_at` moves on. The three
commit together or not at all, so a process that dies between claim and commit leaves the
row as it was and the next tick — in any process — fires it once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.db import transaction
from foredeck.errors import AppError
from foredeck.jobs import controls as job_controls
from foredeck.jobs import locks
from foredeck.jobs.registry import get_spec
from foredeck.kit.background import logged_failure
from foredeck.kit.runtime import Runtime
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job, Lock
from foredeck.models.schedules import Schedule
from foredeck.schedules import service, timing

log = get_logger(__name__)
# Schedules looked at per tick; the rest wait for the next tick.
BATCH = 100


def due_clause(now: datetime) -> Any:
    return Schedule.enabled.is_(True) & or_(Schedule.next_fire_at <= now, Schedule.pending_runs > 0)


async def fire_due(
    runtime: Runtime, *, now: datetime | None = None, ids: Collection[int] | None = None
) -> int:
    """Fire every due schedule (or only those of `ids`) once; how many jobs were queued."""
    now = now or utcnow()
    stmt = select(Schedule.id, Schedule.revision).where(due_clause(now))
    if ids is not None:
        stmt = stmt.where(Schedule.id.in_(list(ids)))
    async with runtime.sessionmaker() as session:
        if await job_controls.is_draining(session):
            # New jobs are refused while draining: the fires stay due for later.
            return 0
        due = (await session.execute(stmt.order_by(Schedule.next_fire_at).limit(BATCH))).all()
    grace = timedelta(seconds=runtime.config.schedule_misfire_grace_seconds)
    queued = 0
    for schedule_id, revision in due:
        # One schedule's failure (a lock taken by a job created since the check, say) rolls
        # back its own claim only; it stays due for the next tick.
        with logged_failure("schedule_fire_failed", schedule_id=schedule_id):
            async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
                queued += await fire_one(
                    session, schedule_id=schedule_id, revision=revision, now=now, grace=grace
                )
    return queued


async def claim(
    session: AsyncSession, *, schedule_id: int, revision: int, now: datetime
) -> Schedule | None:
    """Take the due row for this transaction, or None when another claimer (or an edit) won."""
    claimed = await session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, Schedule.revision == revision, due_clause(now))
        .values(revision=Schedule.revision + 1)
        .returning(Schedule.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.first() is None:
        return None
    rows = await session.execute(
        select(Schedule).where(Schedule.id == schedule_id).execution_options(populate_existing=True)
    )
    return rows.scalar_one()


async def _locks_held(session: AsyncSession, keys: list[str], now: datetime) -> bool:
    if not keys:
        return False
    # The lock table's own rule for "free" (unheld, lease run out, holder job ended).
    free = locks._free_clause(now, None, None)
    held = await session.execute(select(Lock.name).where(Lock.name.in_(keys), ~free).limit(1))
    return held.first() is not None


async def _previous_active(session: AsyncSession, job_id: str | None) -> bool:
    if job_id is None:
        return False
    status = (await session.execute(select(Job.status).where(Job.id == job_id))).scalar()
    return status in ACTIVE_STATUSES


def runs_for(schedule: Schedule, fires: list[datetime], now: datetime, grace: timedelta) -> int:
    """How many runs the misfire policy asks for, given the fire times that came due."""
    if not fires:
        return 0
    on_time = now - fires[-1] <= grace
    if len(fires) == 1 and on_time:
        return 1
    if schedule.misfire == "skip":
        return 1 if on_time else 0
    if schedule.misfire == "run_once":
        return 1
    return min(len(fires), schedule.catch_up_max)


async def fire_one(
    session: AsyncSession, *, schedule_id: int, revision: int, now: datetime, grace: timedelta
) -> int:
    """Claim one schedule, apply its misfire and overlap policies, queue its jobs; how many."""
    schedule = await claim(session, schedule_id=schedule_id, revision=revision, now=now)
    if schedule is None:
        return 0
    spec = get_spec(schedule.kind)
    keys: list[str] = []
    try:
        model = spec.params.model_validate(schedule.params) if spec and spec.params else None
        keys = spec.lock_keys(model) if spec is not None else []
    except ValidationError:
        # record_fire reports it below, with the kind's own message.
        pass
    fires: list[datetime] = []
    count = 0
    nxt = schedule.next_fire_at
    if schedule.next_fire_at is not None and schedule.next_fire_at <= now:
        limit = max(1, schedule.catch_up_max)
        fires, count, nxt = timing.due_fires(
            cron=schedule.cron,
            interval_seconds=schedule.interval_seconds,
            tz=timing.zone(schedule.timezone),
            first=schedule.next_fire_at,
            now=now,
            limit=limit,
        )
    new_runs = runs_for(schedule, fires, now, grace)
    held = await _locks_held(session, keys, now)
    outcome, message = "queued", None
    if count and not new_runs:
        outcome, message = "skipped_misfire", f"{count} fires missed while down; misfire=skip"
    if (
        new_runs
        and schedule.overlap == "skip"
        and (held or await _previous_active(session, schedule.last_job_id))
    ):
        outcome, message = "skipped_overlap", "the previous run is still active"
        new_runs = 0
    cap = schedule.catch_up_max if schedule.misfire == "catch_up" else 1
    owed = min(schedule.pending_runs + new_runs, cap)
    values: dict[str, Any] = {"next_fire_at": nxt, "updated_at": utcnow()}
    if fires:
        values["last_fire_at"] = fires[-1]
    if owed and held:
        # The lock frees when the previous run ends; the owed runs wait for it.
        values.update(
            pending_runs=owed, last_outcome="waiting", last_message="waiting for the lock"
        )
        owed = 0
    elif owed:
        # Jobs that take the same lock cannot be queued together: one now, the rest later.
        now_runs = 1 if keys else owed
        fire_times = fires[-now_runs:] if new_runs and len(fires) >= now_runs else []
        times = [fire_times[i] if i < len(fire_times) else now + timedelta(microseconds=i)
                 for i in range(now_runs)]  # fmt: skip
        try:
            # A savepoint: a job the engine refuses (params a changed setting no longer
            # allows, a drain begun since the check) leaves the claim and the advance intact,
            # so a broken schedule says why once per fire instead of retrying every tick.
            async with session.begin_nested():
                job_ids = [
                    (await service.record_fire(session, schedule, fire_at=t)).id for t in times
                ]
        except AppError as exc:
            values.update(pending_runs=0, last_outcome="error", last_message=exc.message[:2000])
            owed = 0
        else:
            values.update(
                pending_runs=owed - now_runs,
                last_job_id=job_ids[-1],
                last_outcome=outcome,
                last_message=f"{now_runs} run(s) queued"
                + (f", {owed - now_runs} to follow" if owed > now_runs else ""),
            )
            owed = now_runs
    else:
        values.update(pending_runs=0, last_outcome=outcome, last_message=message)
    await session.execute(
        update(Schedule)
        .where(Schedule.id == schedule.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(schedule)
    service.publish(session, schedule, "fired")
    log.info(
        "schedule_fired",
        schedule=schedule.name,
        queued=owed,
        outcome=schedule.last_outcome,
        due=count,
    )
    return owed
