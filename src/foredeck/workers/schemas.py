"""API contracts of workers and cluster controls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class WorkerRead(BaseModel):
    id: str
    host: str
    pid: int
    role: str
    queues: list[str]
    status: str
    paused: bool
    concurrency: int
    processed: int
    failed: int
    running_jobs: int
    current_job_id: str | None
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    payload: dict[str, Any]


class ControlsRead(BaseModel):
    draining: bool
    paused_all: bool
    paused_queues: list[str]
    active_jobs: int


def worker_read(worker: Any, status: str) -> WorkerRead:
    return WorkerRead(
        id=worker.id,
        host=worker.host,
        pid=worker.pid,
        role=worker.role,
        queues=worker.queues or [],
        status=status,
        paused=worker.paused,
        concurrency=worker.concurrency,
        processed=worker.processed,
        failed=worker.failed,
        running_jobs=worker.running_jobs,
        current_job_id=worker.current_job_id,
        started_at=worker.started_at,
        heartbeat_at=worker.heartbeat_at,
        stopped_at=worker.stopped_at,
        payload=worker.payload or {},
    )
