"""Tables of the job engine: jobs, their runs and events, locks, workers, controls, telemetry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from foredeck.models.base import Base, BigIntPK, JSONType, utcnow

JOB_STATUSES = ("queued", "running", "paused", "cancelling", "cancelled", "succeeded", "failed")
ACTIVE_STATUSES = ("queued", "running", "paused", "cancelling")
TERMINAL_STATUSES = ("cancelled", "succeeded", "failed")
WORKER_STATUSES = ("running", "paused", "draining", "stopped", "stale")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_created_at", "created_at"),
        # A status's jobs newest first (the failed ones, say) without sorting all of them.
        Index("ix_jobs_status_created", "status", "created_at"),
        Index("ix_jobs_kind_created", "kind", "created_at"),
        # Listing by kind and status together (e.g. queued imports) at a million rows.
        Index("ix_jobs_kind_status_created", "kind", "status", "created_at"),
        Index("ix_jobs_queue_status", "queue", "status"),
        Index("ix_jobs_status_finished", "status", "finished_at"),
        Index("ix_jobs_lease", "lease_expires_at"),
        Index("ix_jobs_created_by", "created_by"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64), default="default")
    priority: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    progress_percent: Mapped[float | None] = mapped_column(Float)
    progress_message: Mapped[str | None] = mapped_column(String(512))
    # Handler-specific counters reported with progress (inserted, skipped, ...).
    counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    checkpoint: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=1)
    lock_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    worker_id: Mapped[str | None] = mapped_column(String(128))
    # Raised on every claim; a runner whose token is no longer current may not write.
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# The text filter's index is not here: SQLite's is the `jobs_fts` trigram table, PostgreSQL's a
# GIN gin_trgm_ops index (`ix_jobs_text_trgm`); migration 0008 makes both, and migrations/env.py
# keeps autogenerate from reading them as drift.

# The claim query: queued jobs by priority, oldest first. The index must match that
# mixed-direction order, or every claim sorts the whole backlog (9 ms at 3,000 queued).
Index("ix_jobs_claim", Job.status, Job.priority.desc(), Job.created_at)


class JobRun(Base):
    """One attempt of a job: the "task executions" of seed 002."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(default=1)
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)


class JobEvent(Base):
    """A job's persisted event; its id is the SSE event id clients resume from."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16), default="info")
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lock(Base):
    """An advisory lock; a NULL expiry means a queued job holds it until it runs or ends."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder_job_id: Mapped[str | None] = mapped_column(String(36))
    holder: Mapped[str | None] = mapped_column(String(256))
    acquired_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    fence: Mapped[int] = mapped_column(BigInteger, default=0)


class Worker(Base):
    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_status", "status"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(default=0)
    role: Mapped[str] = mapped_column(String(32), default="embedded")
    queues: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default="running")
    # The operator's wish; the worker applies it and reports `status`.
    paused: Mapped[bool] = mapped_column(default=False)
    concurrency: Mapped[int] = mapped_column(default=1)
    processed: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    current_job_id: Mapped[str | None] = mapped_column(String(36))
    running_jobs: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WorkerControl(Base):
    """Cluster-wide switches that survive restarts: drain, pause-all, paused queues."""

    __tablename__ = "worker_controls"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    active: Mapped[bool] = mapped_column(default=False)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TelemetrySample(Base):
    __tablename__ = "telemetry"
    __table_args__ = (Index("ix_telemetry_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


__all__ = [
    "ACTIVE_STATUSES",
    "JOB_STATUSES",
    "TERMINAL_STATUSES",
    "WORKER_STATUSES",
    "Job",
    "JobEvent",
    "JobRun",
    "Lock",
    "TelemetrySample",
    "Worker",
    "WorkerControl",
]
