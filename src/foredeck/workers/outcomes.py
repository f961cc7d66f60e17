"""What a finished attempt writes: outcomes, batched finishes, crash recovery."""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.jobs import locks
from foredeck.jobs.dispatch import Wake, enqueue_after_commit
from foredeck.logging import get_logger, redact_text
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job, JobEvent, JobRun

log = get_logger(__name__)
TRACEBACK_CHARS = 4000


FINISH_BATCH = 200
FINAL = ("succeeded", "cancelled", "failed")
JOB_FINAL_KEYS = (
    "status",
    "result",
    "error",
    "error_traceback",
    "finished_at",
    "lease_expires_at",
    "updated_at",
    "progress_done",
    "progress_total",
    "progress_percent",
    "progress_message",
    "counters",
)
RUN_KEYS = ("status", "finished_at", "duration_ms", "result", "error")


@dataclass
class Claimed:
    job_id: str
    kind: str
    queue: str
    fence: int
    attempt: int
    max_attempts: int
    params: dict[str, Any]
    checkpoint: dict[str, Any] | None
    created_by: int | None
    lock_keys: list[str]
    run_id: int
    progress: tuple[int, int | None, str | None, dict[str, Any]]
    started: float


@dataclass
class Finish:
    claimed: Claimed
    job_values: dict[str, Any]
    run_values: dict[str, Any]
    release: bool
    wake_delay: float | None
    event: dict[str, Any]
    status: str


def uniform(values: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The same keys for every row of an executemany (missing ones written as NULL/defaults)."""
    out = {k: values.get(k) for k in keys}
    if "counters" in out and out["counters"] is None:
        out["counters"] = {}
    if "progress_done" in out and out["progress_done"] is None:
        out["progress_done"] = 0
    return out


def event_row(
    job_id: str, message: str, data: dict[str, Any], now: Any, *, level: str = "info"
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "kind": "status",
        "level": level,
        "message": message,
        "data": data,
        "created_at": now,
    }


def insert_events_on(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert status events in one statement; returns their published form (with ids)."""
    ids = conn.execute(_INSERT_EVENTS, rows)
    return [
        {**row, "id": int(i), "created_at": row["created_at"].isoformat()}
        for row, i in zip(rows, ids.scalars(), strict=True)
    ]


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with +-25 % jitter, so retries of many jobs do not stampede."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return max(0.0, delay * random.uniform(0.75, 1.25))


def error_summary(exc: BaseException) -> str:
    """The job's `error`: shown in responses and the console, so secret shapes are replaced."""
    return redact_text(f"{type(exc).__name__}: {exc}")[:2000]


def traceback_summary(exc: BaseException) -> str:
    """The job's `error_traceback` (no frame locals), with secret shapes replaced."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return redact_text(text)[-TRACEBACK_CHARS:]


@dataclass
class Finished:
    written: list[bool]
    payloads: list[dict[str, Any]]
    wakes: list[Wake]


# Built once: the finisher runs these for every batch of jobs that ends.
_JOBS: Table = Job.__table__  # type: ignore[assignment]
_RUNS: Table = JobRun.__table__  # type: ignore[assignment]
_FINISH_JOBS = _JOBS.update().where(
    _JOBS.c.id == bindparam("b_id"), _JOBS.c.fence == bindparam("b_fence")
)
_FENCES = select(Job.id, Job.fence).where(Job.id.in_(bindparam("ids", expanding=True)))
_FINISH_RUNS = _RUNS.update().where(_RUNS.c.id == bindparam("b_id"))
_INSERT_EVENTS = insert(JobEvent).returning(JobEvent.id, sort_by_parameter_order=True)


def finish_jobs(
    conn: Connection, batch: list[Finish], events: list[dict[str, Any]] | None = None
) -> Finished:
    """Write outcomes in conn's transaction: final ones with one executemany, others one by one.

    The fenced UPDATE of an executemany cannot report rows one by one, so the tokens are
    read back in the same transaction: a row still carrying this attempt's token is one the
    update matched (a token only changes when a queued job is claimed again). Jobs to wake
    (retries, interrupted attempts) are returned for the caller to hand over after commit.
    Given `events`, the status events are appended there instead of inserted.
    """
    ok: dict[int, bool] = {}
    bulk = [i for i, f in enumerate(batch) if f.status in FINAL and "attempts" not in f.job_values]
    if bulk:
        updated = conn.execute(
            _FINISH_JOBS,
            [
                {
                    "b_id": batch[i].claimed.job_id,
                    "b_fence": batch[i].claimed.fence,
                    **uniform(batch[i].job_values, JOB_FINAL_KEYS),
                }
                for i in bulk
            ],
        )
        if conn.dialect.supports_sane_multi_rowcount and updated.rowcount == len(bulk):
            # Every row matched (SQLite counts an executemany's rows): no token to read back.
            ok.update(dict.fromkeys(bulk, True))
        else:
            ids = [batch[i].claimed.job_id for i in bulk]
            tokens = dict(conn.execute(_FENCES, {"ids": ids}).all())
            for i in bulk:
                ok[i] = tokens.get(batch[i].claimed.job_id) == batch[i].claimed.fence
    for i, f in enumerate(batch):
        if i in ok:
            continue
        c = f.claimed
        result = conn.execute(
            update(Job).where(Job.id == c.job_id, Job.fence == c.fence).values(**f.job_values)
        )
        ok[i] = bool(result.rowcount)
    written = [ok[i] for i in range(len(batch))]
    done = [f for f, w in zip(batch, written, strict=True) if w]
    wakes: list[Wake] = []
    if done:
        conn.execute(
            _FINISH_RUNS,
            [{"b_id": f.claimed.run_id, **uniform(f.run_values, RUN_KEYS)} for f in done],
        )
    for f in done:
        c = f.claimed
        if c.lock_keys:
            if f.release:
                locks.release_job_locks_on(conn, c.job_id)
            else:
                locks.set_job_lock_lease_on(conn, c.job_id, None)
        if f.wake_delay is not None:
            wakes.append((c.job_id, c.queue, f.wake_delay))
    if events is not None:
        # The caller inserts them along with other events of its transaction.
        events.extend(f.event for f in done)
        return Finished(written, [], wakes)
    payloads = insert_events_on(conn, [f.event for f in done]) if done else []
    return Finished(written, payloads, wakes)


NO_HEARTBEAT = "no heartbeat within the job lease"


async def _losses(session: AsyncSession, job_ids: list[str]) -> dict[str, int]:
    """How many attempts of each job have already lost their worker."""
    if not job_ids:
        return {}
    rows = await session.execute(
        select(JobRun.job_id, func.count())
        .where(JobRun.job_id.in_(job_ids), JobRun.status == "lost")
        .group_by(JobRun.job_id)
    )
    return {job_id: int(n) for job_id, n in rows.all()}


async def recover(
    session: AsyncSession, *, only_worker: str | None = None, max_losses: int = 3
) -> int:
    """Requeue or fail jobs whose lease ran out (or, at start-up, this worker's orphans).

    A lost worker is not the job's fault (a deploy, an OOM kill, a spot instance), so the
    attempt is given back and the job resumes from its checkpoint on any live worker; only
    after `max_losses` lost attempts is it failed, so a job that kills its worker cannot
    loop forever.
    """
    now = utcnow()
    stmt = select(Job.id, Job.status, Job.fence, Job.attempts, Job.max_attempts, Job.queue).where(
        Job.status.in_(("running", "cancelling", "paused")), Job.worker_id.is_not(None)
    )
    if only_worker is not None:
        stmt = stmt.where(Job.worker_id == only_worker)
    else:
        stmt = stmt.where(Job.lease_expires_at < now)
    rows = (await session.execute(stmt)).all()
    earlier = await _losses(session, [row.id for row in rows])
    count = 0
    for row in rows:
        losses = earlier.get(row.id, 0) + 1
        values: dict[str, Any] = {
            "worker_id": None,
            "lease_expires_at": None,
            "updated_at": now,
            # The attempt is declared dead: if it still runs, its next write finds no row
            # and it stops, rather than writing progress onto a queued job until a new claim.
            "fence": Job.fence + 1,
        }
        release = False
        if row.status == "cancelling":
            values.update(status="cancelled", finished_at=now)
            release = True
        elif losses >= max_losses:
            values.update(
                status="failed",
                finished_at=now,
                error=f"Worker lost {losses} time{'' if losses == 1 else 's'}: {NO_HEARTBEAT}",
            )
            release = True
        else:
            # The next claim counts the attempt again; a lost one is not spent.
            values.update(attempts=Job.attempts - 1)
            if row.status != "paused":
                values.update(status="queued", run_after=now)
        guard = update(Job).where(Job.id == row.id, Job.fence == row.fence)
        if only_worker is None:
            guard = guard.where(Job.lease_expires_at < now)
        done = await session.execute(
            guard.values(**values).execution_options(synchronize_session=False)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            continue
        count += 1
        await session.execute(
            update(JobRun)
            .where(JobRun.job_id == row.id, JobRun.fence == row.fence)
            .where(JobRun.finished_at.is_(None))
            .values(
                status="lost",
                finished_at=now,
                error=f"Worker lost: {NO_HEARTBEAT} (loss {losses} of {max_losses})",
            )
            .execution_options(synchronize_session=False)
        )
        if release:
            await locks.release_job_locks(session, row.id)
        else:
            await locks.set_job_lock_lease(session, row.id, None)
        new_status = values.get("status", row.status)
        session.add(
            JobEvent(
                job_id=row.id,
                kind="status",
                level="warning",
                message="worker lost",
                data={
                    "status": new_status,
                    "reason": "lease expired",
                    "losses": losses,
                    "max_losses": max_losses,
                },
                created_at=now,
            )
        )
        if new_status == "queued":
            enqueue_after_commit(session, row.id, row.queue)
        log.warning("job_recovered", job_id=row.id, status=new_status, losses=losses)
    await session.flush()
    return count
