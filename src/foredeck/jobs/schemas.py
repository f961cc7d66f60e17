"""API contracts of jobs, runs, events and locks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from foredeck.kit.schemas import StrictBody

JobStatus = Literal["queued", "running", "paused", "cancelling", "cancelled", "succeeded", "failed"]
# Seed 001's names for two statuses, accepted by the job listing's filter.
STATUS_ALIASES = {"pending": "queued", "completed": "succeeded"}
JobStatusFilter = Literal[
    "queued",
    "running",
    "paused",
    "cancelling",
    "cancelled",
    "succeeded",
    "failed",
    "pending",
    "completed",
]
Action = Literal["pause", "resume", "cancel", "retry"]
# Bulk control can also delete: finished jobs go, the others are reported as skipped.
BulkAction = Literal["pause", "resume", "cancel", "retry", "delete"]


class JobCreate(StrictBody):
    kind: str = Field(min_length=1, max_length=64, description="A registered job kind")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated per kind")
    queue: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    priority: int | None = Field(default=None, ge=-100, le=100, description="Higher runs first")
    max_attempts: int | None = Field(default=None, ge=1, le=50)


MAX_BATCH_JOBS = 1000


class JobBatchCreate(StrictBody):
    jobs: list[JobCreate] = Field(
        min_length=1, max_length=MAX_BATCH_JOBS, description="Queued all together, or none"
    )


class TestJobCreate(StrictBody):
    count: int = Field(default=10, ge=1, le=1_000_000, description="How far to count")
    delay: float = Field(default=0.2, ge=0, le=10, description="Seconds per step")


class Progress(BaseModel):
    done: int
    total: int | None
    percent: float | None
    message: str | None
    counters: dict[str, Any]


class JobRead(BaseModel):
    id: str
    kind: str
    queue: str
    priority: int
    status: JobStatus
    params: dict[str, Any]
    progress: Progress
    result: dict[str, Any] | None
    error: str | None
    error_traceback: str | None
    attempts: int
    max_attempts: int
    lock_keys: list[str]
    checkpoint: dict[str, Any] | None
    created_by: int | None
    worker_id: str | None
    created_at: datetime
    run_after: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    lease_expires_at: datetime | None


def job_read(job: Any) -> JobRead:
    return JobRead(
        id=job.id,
        kind=job.kind,
        queue=job.queue,
        priority=job.priority,
        status=job.status,
        params=job.params,
        progress=Progress(
            done=job.progress_done,
            total=job.progress_total,
            percent=job.progress_percent,
            message=job.progress_message,
            counters=job.counters or {},
        ),
        result=job.result,
        error=job.error,
        error_traceback=job.error_traceback,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        lock_keys=job.lock_keys or [],
        checkpoint=job.checkpoint,
        created_by=job.created_by,
        worker_id=job.worker_id,
        created_at=job.created_at,
        run_after=job.run_after,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at,
        lease_expires_at=job.lease_expires_at,
    )


class JobCreated(BaseModel):
    """The seed 001 shape (`job_id`, `status`) plus the whole job."""

    job_id: str
    status: JobStatus
    job: JobRead


class RunRead(BaseModel):
    id: int
    job_id: str
    attempt: int
    worker_id: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    result: dict[str, Any] | None
    error: str | None


class EventRead(BaseModel):
    id: int
    job_id: str
    kind: str
    level: str
    message: str | None
    data: dict[str, Any]
    created_at: datetime


class ControlBody(StrictBody):
    action: Action


class BulkFilter(StrictBody):
    status: list[JobStatus] | None = None
    kind: list[str] | None = None
    queue: list[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class BulkControlBody(StrictBody):
    action: BulkAction
    ids: list[str] | None = Field(default=None, max_length=10_000)
    filter: BulkFilter | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)


class BulkResult(BaseModel):
    action: BulkAction
    matched: int
    changed: list[str]
    skipped: list[dict[str, str]]


class KindRead(BaseModel):
    kind: str
    queue: str
    max_attempts: int
    time_limit_seconds: float | None = Field(
        default=None, description="One attempt fails, with no retry, after this long"
    )
    locks: list[str]
    description: str
    params_schema: dict[str, Any] | None


class LockRead(BaseModel):
    name: str
    held: bool
    holder_job_id: str | None
    holder: str | None
    acquired_at: datetime | None
    expires_at: datetime | None
    fence: int


class QueueStats(BaseModel):
    queue: str
    paused: bool
    pending: int
    running: int
    paused_jobs: int
    failed: int
    by_kind: dict[str, dict[str, int]]


class QueueSummary(BaseModel):
    draining: bool
    paused_all: bool
    queues: list[QueueStats]
    recent_failures: list[JobRead]
