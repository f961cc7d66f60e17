"""The claim transaction: move due jobs to running for one worker, in one round trip.

Written against a plain Connection and run through `jobs.writes.run_write`, so on SQLite the
whole transaction is one hop to a worker thread, and on PostgreSQL the same code runs on the
async engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, literal, select, update

from foredeck.jobs import locks
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job, JobRun, Worker, WorkerControl
from foredeck.workers.outcomes import Claimed, event_row, insert_events_on
from foredeck.workers.service import PAUSE_ALL, QUEUE_PREFIX


@dataclass
class ClaimResult:
    claimed: list[Claimed] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    # Jobs put back because another holder took their lock meanwhile: (job id, reason).
    waiting: list[tuple[str, str]] = field(default_factory=list)


def claimable(now: Any, worker_id: str) -> Any:
    """Due, queued, and not held back by a paused queue, pause-all or a paused worker."""
    held = exists().where(
        WorkerControl.active.is_(True),
        (WorkerControl.name == PAUSE_ALL)
        | (WorkerControl.name == literal(QUEUE_PREFIX) + Job.queue),
    )
    me_paused = exists().where(Worker.id == worker_id, Worker.paused.is_(True))
    return and_(Job.status == "queued", Job.run_after <= now, ~held, ~me_paused)


_RETURNED = (
    Job.id,
    Job.kind,
    Job.queue,
    Job.fence,
    Job.attempts,
    Job.max_attempts,
    Job.params,
    Job.checkpoint,
    Job.created_by,
    Job.lock_keys,
    Job.progress_done,
    Job.progress_total,
    Job.progress_message,
    Job.counters,
)


def claim_jobs(
    conn: Connection,
    *,
    worker_id: str,
    limit: int,
    lease: float,
    job_ids: list[str] | None = None,
    queues: list[str] | None = None,
) -> ClaimResult:
    """Atomically move up to `limit` due jobs to running for this worker (in conn's transaction)."""
    out = ClaimResult()
    now = utcnow()
    stmt = select(Job.id).where(claimable(now, worker_id))
    if job_ids is not None:
        stmt = stmt.where(Job.id.in_(job_ids))
    if queues:
        stmt = stmt.where(Job.queue.in_(queues))
    stmt = stmt.order_by(Job.priority.desc(), Job.created_at).limit(limit)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(conn.execute(stmt).scalars())
    if not ids:
        return out
    rows = conn.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.status == "queued")
        .values(
            status="running",
            worker_id=worker_id,
            fence=Job.fence + 1,
            attempts=Job.attempts + 1,
            started_at=func.coalesce(Job.started_at, now),
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=lease),
            dispatched_at=now,
            updated_at=now,
        )
        .returning(*_RETURNED)
    ).all()
    runs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in rows:
        if row.lock_keys:
            try:
                locks.acquire_many_on(
                    conn, row.lock_keys, holder_job_id=row.id, lease_seconds=lease
                )
            except locks.LockHeld as exc:
                # Someone took the lock while this job waited (its lease ran out): wait for
                # it rather than run unlocked.
                conn.execute(
                    update(Job)
                    .where(Job.id == row.id)
                    .values(
                        status="queued",
                        worker_id=None,
                        attempts=Job.attempts - 1,
                        lease_expires_at=None,
                        run_after=now + timedelta(seconds=2),
                    )
                )
                out.waiting.append((row.id, exc.message))
                continue
        runs.append(
            {
                "job_id": row.id,
                "attempt": row.attempts,
                "fence": row.fence,
                "worker_id": worker_id,
                "status": "running",
                "started_at": now,
            }
        )
        events.append(
            event_row(
                row.id,
                "running",
                {"status": "running", "attempt": row.attempts, "worker": worker_id},
                now,
            )
        )
        out.claimed.append(
            Claimed(
                job_id=row.id,
                kind=row.kind,
                queue=row.queue,
                fence=row.fence,
                attempt=row.attempts,
                max_attempts=row.max_attempts,
                params=row.params,
                checkpoint=row.checkpoint,
                created_by=row.created_by,
                lock_keys=row.lock_keys,
                run_id=0,
                progress=(
                    row.progress_done,
                    row.progress_total,
                    row.progress_message,
                    row.counters or {},
                ),
                started=time.monotonic(),
            )
        )
    if out.claimed:
        run_ids = conn.execute(
            insert(JobRun).returning(JobRun.id, sort_by_parameter_order=True), runs
        )
        for c, run_id in zip(out.claimed, run_ids.scalars(), strict=True):
            c.run_id = int(run_id)
        out.payloads = insert_events_on(conn, events)
    return out
