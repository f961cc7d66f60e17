"""Telemetry: snapshots of queues, workers and running jobs, stored as samples for charts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.errors import ValidationFailed
from foredeck.jobs import controls as job_controls
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job, TelemetrySample, Worker
from foredeck.workers import service as workers_service

RUNNING_JOBS_SHOWN = 50
WORKER_STATUSES = ("running", "paused", "draining", "stopped", "stale")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | None, field: str, default: float) -> float:
    """Seconds from '90', '90s', '15m', '6h' or '1d'."""
    if value is None or value == "":
        return default
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise ValidationFailed.field(field, "Use seconds or a number with s, m, h or d (e.g. 1h)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValidationFailed.field(field, "Must be more than zero")
    return seconds


async def collect(session: AsyncSession, heartbeat_seconds: float) -> dict[str, Any]:
    """Queue depth per queue, worker states, running job progress and cluster controls, now."""
    now = utcnow()
    rows = await session.execute(
        select(Job.queue, Job.status, func.count())
        .where(Job.status.in_(ACTIVE_STATUSES))
        .group_by(Job.queue, Job.status)
    )
    queues: dict[str, dict[str, int]] = {}
    for queue, status, n in rows.all():
        queues.setdefault(queue, {s: 0 for s in ACTIVE_STATUSES})[status] = int(n)
    since = now - timedelta(hours=1)
    failed_rows = await session.execute(
        select(Job.queue, func.count())
        .where(Job.status == "failed", Job.finished_at >= since)
        .group_by(Job.queue)
    )
    failed_last_hour = {q: int(n) for q, n in failed_rows.all()}
    workers = list((await session.execute(select(Worker))).scalars())
    worker_states = {s: 0 for s in WORKER_STATUSES}
    worker_list = []
    for w in workers:
        status = workers_service.effective_status(w, heartbeat_seconds)
        worker_states[status] = worker_states.get(status, 0) + 1
        if status != "stopped":
            worker_list.append(
                {
                    "id": w.id,
                    "role": w.role,
                    "status": status,
                    "running_jobs": w.running_jobs,
                    "concurrency": w.concurrency,
                    "processed": w.processed,
                    "failed": w.failed,
                    "heartbeat_at": w.heartbeat_at.isoformat(),
                }
            )
    running = await session.execute(
        select(
            Job.id,
            Job.kind,
            Job.queue,
            Job.status,
            Job.progress_done,
            Job.progress_total,
            Job.progress_percent,
            Job.progress_message,
            Job.worker_id,
        )
        .where(Job.status.in_(("running", "paused", "cancelling")))
        .order_by(Job.started_at.desc())
        .limit(RUNNING_JOBS_SHOWN)
    )
    jobs = [
        {
            "id": r.id,
            "kind": r.kind,
            "queue": r.queue,
            "status": r.status,
            "done": r.progress_done,
            "total": r.progress_total,
            "percent": r.progress_percent,
            "message": r.progress_message,
            "worker_id": r.worker_id,
        }
        for r in running.all()
    ]
    controls = await job_controls.active_controls(session)
    from foredeck.embedding import service as embedding_service

    return {
        "at": now.isoformat(),
        "queue_depth": sum(q["queued"] for q in queues.values()),
        # The embedding queue is records, not jobs: one embed job drains many of them.
        "pending_embeddings": await embedding_service.due_count(session),
        "running": sum(q["running"] + q["cancelling"] for q in queues.values()),
        "queues": queues,
        "failed_last_hour": failed_last_hour,
        "workers": worker_states,
        "worker_list": worker_list,
        "jobs": jobs,
        "controls": {
            "draining": job_controls.DRAIN in controls,
            "paused_all": job_controls.PAUSE_ALL in controls,
            "paused_queues": sorted(
                n[len(job_controls.QUEUE_PREFIX) :]
                for n in controls
                if n.startswith(job_controls.QUEUE_PREFIX)
            ),
        },
    }


async def record(session: AsyncSession, source: str, snapshot: dict[str, Any]) -> None:
    """Keep a compact copy of a snapshot for history charts."""
    compact = {
        "queue_depth": snapshot["queue_depth"],
        "pending_embeddings": snapshot.get("pending_embeddings", 0),
        "running": snapshot["running"],
        "queues": {q: v["queued"] for q, v in snapshot["queues"].items()},
        "workers": snapshot["workers"],
        "failed_last_hour": sum(snapshot["failed_last_hour"].values()),
    }
    session.add(TelemetrySample(source=source, created_at=utcnow(), data=compact))
    await session.flush()


async def history(session: AsyncSession, *, window: float, step: float) -> dict[str, Any]:
    """Samples in the last `window` seconds, one point per `step` (the last sample in it)."""
    if step > window:
        raise ValidationFailed.field("step", "step must not be larger than window")
    if window / step > 5000:
        raise ValidationFailed.field("step", "At most 5000 points: use a larger step")
    now = utcnow()
    start = now - timedelta(seconds=window)
    rows = await session.execute(
        select(TelemetrySample.created_at, TelemetrySample.data)
        .where(TelemetrySample.created_at >= start)
        .order_by(TelemetrySample.created_at)
    )
    buckets: dict[int, tuple[datetime, dict[str, Any]]] = {}
    for created_at, data in rows.all():
        index = int((created_at - start).total_seconds() // step)
        buckets[index] = (created_at, data)
    points = []
    queue_names: set[str] = set()
    for index in sorted(buckets):
        created_at, data = buckets[index]
        queue_names.update((data.get("queues") or {}).keys())
        points.append((start + timedelta(seconds=index * step), data))
    series: dict[str, Any] = {
        "t": [p[0].isoformat() for p in points],
        "queue_depth": [p[1].get("queue_depth", 0) for p in points],
        "running": [p[1].get("running", 0) for p in points],
        "workers_running": [(p[1].get("workers") or {}).get("running", 0) for p in points],
        "failed_last_hour": [p[1].get("failed_last_hour", 0) for p in points],
        "queues": {
            q: [(p[1].get("queues") or {}).get(q, 0) for p in points] for q in sorted(queue_names)
        },
    }
    return {"window": window, "step": step, "points": len(points), "series": series}
