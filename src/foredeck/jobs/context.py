"""JobContext: what a handler gets to report progress, emit events, check control and persist."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.jobs.errors import JobCancelled, JobInterrupted, JobLost
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import Runtime
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job, JobEvent

T = TypeVar("T")
log = get_logger(__name__)
LEVELS = ("debug", "info", "warning", "error")


def event_payload(ev: JobEvent) -> dict[str, Any]:
    """The JSON form of an event, as published and as streamed over SSE."""
    return {
        "id": ev.id,
        "job_id": ev.job_id,
        "kind": ev.kind,
        "level": ev.level,
        "message": ev.message,
        "data": ev.data,
        "created_at": ev.created_at.isoformat(),
    }


class JobContext:
    """Handed to every handler; the same object on the embedded pool and on Celery."""

    def __init__(
        self,
        *,
        runtime: Runtime,
        job_id: str,
        kind: str,
        queue: str,
        fence: int,
        attempt: int,
        max_attempts: int,
        params: Any,
        raw_params: dict[str, Any],
        checkpoint: dict[str, Any] | None,
        created_by: int | None,
        worker_id: str,
        progress: tuple[int, int | None, str | None, dict[str, Any]] = (0, None, None, {}),
    ) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.kind = kind
        self.queue = queue
        self.fence = fence
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.params = params
        self.raw_params = raw_params
        self.created_by = created_by
        self.worker_id = worker_id
        self._checkpoint = checkpoint
        self.done, self.total, self.message, self.counters = (
            progress[0],
            progress[1],
            progress[2],
            dict(progress[3]),
        )
        self.settings = runtime[JOB_SETTINGS]
        self.lost = False
        self.stopping = False
        self._status = "running"
        self._last_check = 0.0
        self._last_progress = 0.0
        self._progress_dirty = False

    # -- reading ---------------------------------------------------------------------------
    @property
    def checkpoint(self) -> dict[str, Any] | None:
        """The last saved resume point of this job (None on a fresh start)."""
        return self._checkpoint

    @property
    def percent(self) -> float | None:
        if self.total:
            return round(min(100.0, 100.0 * self.done / self.total), 2)
        return None

    @property
    def job_dir(self) -> Path:
        """The folder for this job's file outputs."""
        return self.runtime.config.path("jobs", self.job_id)  # type: ignore[no-any-return]

    # -- writing ---------------------------------------------------------------------------
    async def _fenced_update(self, session: AsyncSession, **values: Any) -> str:
        """Update the job row only while this attempt owns it; returns the current status."""
        values.setdefault("updated_at", utcnow())
        row = (
            await session.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.fence == self.fence)
                .values(**values)
                .returning(Job.status)
                .execution_options(synchronize_session=False)
            )
        ).first()
        if row is None:
            self.lost = True
            raise JobLost(f"job {self.job_id} attempt fence {self.fence} is no longer current")
        self._status = row[0]
        return str(row[0])

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that commits only if this attempt still owns the job (fencing)."""
        async with self.runtime.sessionmaker() as session:
            try:
                yield session
                await self._fenced_update(session, heartbeat_at=utcnow())
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    def _publish(self, payload: dict[str, Any], *, to_jobs: bool) -> None:
        pubsub = self.runtime.pubsub
        if pubsub is None:
            return
        pubsub.publish(f"job:{self.job_id}", payload)
        if to_jobs:
            pubsub.publish("jobs", payload)

    async def event(
        self,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        level: str = "info",
        message: str | None = None,
    ) -> int:
        """Persist and publish an event of this job; returns its id (the SSE event id)."""
        if level not in LEVELS:
            level = "info"
        async with write_guard(self.runtime), self.runtime.sessionmaker() as session:
            if self.runtime.engine.dialect.name == "postgresql":
                # Every writer of a job's events locks the job row first, so they take event
                # ids in commit order and a feed reading `id > last` never skips one that
                # commits late. (SQLite has one writer: ids commit in order already.)
                await session.execute(
                    select(Job.id).where(Job.id == self.job_id).with_for_update(key_share=True)
                )
            ev = JobEvent(
                job_id=self.job_id,
                kind=kind,
                level=level,
                message=message,
                data=data or {},
                created_at=utcnow(),
            )
            session.add(ev)
            await session.flush()
            await session.commit()
        self._publish(event_payload(ev), to_jobs=kind in ("status", "progress"))
        return int(ev.id)

    async def log(self, message: str, *, level: str = "info", **data: Any) -> int:
        """A log line in the job's event stream."""
        return await self.event("log", data, level=level, message=message)

    async def progress(
        self,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
        *,
        force: bool = False,
        **counters: Any,
    ) -> None:
        """Report progress; written at most every job_progress_seconds (and always at the end)."""
        if done is not None:
            self.done = int(done)
        if total is not None:
            self.total = int(total)
        if message is not None:
            self.message = message[:512]
        if counters:
            self.counters.update(counters)
        self._progress_dirty = True
        now = time.monotonic()
        finished = self.total is not None and self.done >= self.total
        if force or finished or now - self._last_progress >= self.settings.job_progress_seconds:
            await self.flush_progress()

    def progress_values(self) -> dict[str, Any]:
        return {
            "progress_done": self.done,
            "progress_total": self.total,
            "progress_percent": self.percent,
            "progress_message": self.message,
            "counters": self.counters,
        }

    async def flush_progress(self) -> None:
        if not self._progress_dirty:
            return
        self._last_progress = time.monotonic()
        self._progress_dirty = False
        data = {
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "message": self.message,
            **({"counters": self.counters} if self.counters else {}),
        }
        async with write_guard(self.runtime), self.runtime.sessionmaker() as session:
            await self._fenced_update(session, **self.progress_values())
            ev = JobEvent(
                job_id=self.job_id,
                kind="progress",
                level="info",
                message=self.message,
                data=data,
                created_at=utcnow(),
            )
            session.add(ev)
            await session.flush()
            await session.commit()
        self._publish(event_payload(ev), to_jobs=True)

    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Persist a resume point; a retry or a resumed job starts its handler with it."""
        async with write_guard(self.runtime), self.runtime.sessionmaker() as session:
            await self._fenced_update(session, checkpoint=checkpoint, **self.progress_values())
            await session.commit()
        self._checkpoint = checkpoint
        self._progress_dirty = False

    async def heartbeat(self) -> None:
        """Tell the cluster this attempt is alive (also done automatically in the background)."""
        lease = self.settings.job_lease_seconds
        from datetime import timedelta

        from foredeck.jobs.locks import set_job_lock_lease

        async with write_guard(self.runtime), self.runtime.sessionmaker() as session:
            now = utcnow()
            await self._fenced_update(
                session, heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease)
            )
            await set_job_lock_lease(session, self.job_id, lease)
            await session.commit()

    async def _read_status(self) -> str:
        async with self.runtime.sessionmaker() as session:
            row = (
                await session.execute(select(Job.status, Job.fence).where(Job.id == self.job_id))
            ).first()
        if row is None or row[1] != self.fence:
            self.lost = True
            raise JobLost(f"job {self.job_id} is no longer owned by this attempt")
        self._status = row[0]
        return str(row[0])

    async def check(self) -> None:
        """Stop here if the job was cancelled (raises JobCancelled); wait here while paused."""
        if self.lost:
            raise JobLost(self.job_id)
        if self.stopping:
            raise JobInterrupted(self.job_id)
        now = time.monotonic()
        if now - self._last_check < self.settings.job_check_seconds:
            return
        self._last_check = now
        status = await self._read_status()
        if status == "cancelling":
            raise JobCancelled(self.job_id)
        if status != "paused":
            return
        await self.flush_progress()
        await self.event("paused", message="paused at a check point")
        while status == "paused":
            if self.stopping:
                raise JobInterrupted(self.job_id)
            await asyncio.sleep(max(0.05, self.settings.job_check_seconds))
            status = await self._read_status()
        if status == "cancelling":
            raise JobCancelled(self.job_id)
        await self.event("resumed", message="resumed")

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run CPU-heavy or blocking work in a thread so the event loop stays responsive."""
        return await asyncio.to_thread(fn, *args, **kwargs)
