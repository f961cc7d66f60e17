"""Claim due jobs from the database and run one attempt; shared by the embedded pool and Celery."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.jobs import dispatch
from foredeck.jobs.context import JobContext
from foredeck.jobs.errors import JobCancelled, JobInterrupted, JobLost, JobTimeLimit
from foredeck.jobs.registry import get_spec
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import Runtime
from foredeck.kit.writes import run_write
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from foredeck.workers.claims import ClaimResult, claim_jobs
from foredeck.workers.outcomes import (
    FINISH_BATCH,
    Claimed,
    Finish,
    Finished,
    backoff_seconds,
    error_summary,
    event_row,
    finish_jobs,
    insert_events_on,
    recover,
    traceback_summary,
)
from foredeck.workers.parts import JOB_OBSERVER

log = get_logger(__name__)


@dataclass(eq=False)
class ClaimAsk:
    """One claim a pool asks for: up to `limit` due jobs, of these queues or these ids."""

    limit: int
    queues: list[str] | None = None
    job_ids: list[str] | None = None
    # The pool's own bookkeeping for this ask, handed back with the outcome.
    taken: list[Any] = field(default_factory=list)


ClaimPlan = list[ClaimAsk]


class Refill(Protocol):
    """A pool's side of refilling slots in the finish transaction."""

    def refill_plan(self, finishing: list[Claimed]) -> ClaimPlan:
        """What to claim for the slots these jobs free; reserves them."""

    def refill_start(self, plan: ClaimPlan, claimed: list[Claimed] | None) -> None:
        """Run what was claimed (None: the transaction failed) and give back the plan's
        reservation."""


class JobRunner:
    """Runs jobs for one worker id against an app's runtime (sessionmaker, settings, pubsub)."""

    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.settings = runtime[JOB_SETTINGS]
        self.contexts: dict[str, JobContext] = {}
        self.processed = 0
        self.failed = 0
        self._finishing: list[tuple[Finish, asyncio.Future[str]]] = []
        self._finishers: list[asyncio.Task[None]] = []
        # PostgreSQL takes the next batch of outcomes while one commits: with one at a time,
        # jobs waited on the round trips of a transaction in flight while the CPU sat idle.
        # SQLite's single writer would only queue the second one behind the first.
        config = runtime.config
        self.max_finishers = 1 if config is None or config.is_sqlite else 2
        # Set by a pool that wants the slots of finishing jobs refilled in the same transaction.
        self.refill: Refill | None = None
        # Running attempts, heartbeaten by one loop: job id -> (context, its task, next beat).
        self._watched: dict[str, tuple[JobContext, asyncio.Task[Any], float]] = {}
        self._beater: asyncio.Task[None] | None = None
        # Warm shutdown: an attempt that starts from here on stops at its first check.
        self.stopping = False

    def interrupt(self) -> None:
        """Warm shutdown: running attempts requeue at their next check, new ones at their first."""
        self.stopping = True
        for ctx in list(self.contexts.values()):
            ctx.stopping = True

    def _publish(self, payloads: list[dict[str, Any]]) -> None:
        pubsub = self.runtime.pubsub
        if pubsub is None:
            return
        for payload in payloads:
            pubsub.publish(f"job:{payload['job_id']}", payload)
            pubsub.publish("jobs", payload)

    async def claim(
        self,
        *,
        limit: int,
        job_id: str | None = None,
        job_ids: list[str] | None = None,
        queues: list[str] | None = None,
    ) -> list[Claimed]:
        """Atomically move up to `limit` due jobs (any, or only these) to running here."""
        if job_id is not None:
            job_ids = [*(job_ids or []), job_id]
        result = await run_write(
            self.runtime,
            partial(
                claim_jobs,
                worker_id=self.worker_id,
                limit=limit,
                lease=self.settings.job_lease_seconds,
                job_ids=job_ids,
                queues=queues,
            ),
        )
        for waiting_id, reason in result.waiting:
            log.info("job_waits_for_lock", job_id=waiting_id, reason=reason)
        if result.claimed:
            self._publish(result.payloads)
        return result.claimed

    def _context(self, c: Claimed) -> JobContext:
        spec = get_spec(c.kind)
        params: Any = c.params
        if spec is not None and spec.params is not None:
            params = spec.params.model_validate(c.params)
        return JobContext(
            runtime=self.runtime,
            job_id=c.job_id,
            kind=c.kind,
            queue=c.queue,
            fence=c.fence,
            attempt=c.attempt,
            max_attempts=c.max_attempts,
            params=params,
            raw_params=c.params,
            checkpoint=c.checkpoint,
            created_by=c.created_by,
            worker_id=self.worker_id,
            progress=c.progress,
        )

    def _watch(self, ctx: JobContext) -> None:
        """Heartbeat this attempt from the runner's one heartbeat loop until it ends.

        A task per attempt (created, cancelled and awaited around every job) was a sixth of
        the event loop's time with short jobs."""
        task = asyncio.current_task()
        assert task is not None
        interval = self.settings.job_lease_seconds / 3
        self._watched[ctx.job_id] = (ctx, task, time.monotonic() + interval)
        if self._beater is None or self._beater.done():
            self._beater = asyncio.create_task(self._beat_loop(interval), name="job-heartbeats")

    def _unwatch(self, job_id: str) -> None:
        self._watched.pop(job_id, None)
        if not self._watched and self._beater is not None:
            self._beater.cancel()
            self._beater = None

    async def _beat_loop(self, interval: float) -> None:
        while self._watched:
            due = min(when for _, _, when in self._watched.values())
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, interval))
                continue
            for job_id, (ctx, task, when) in list(self._watched.items()):
                if when > time.monotonic() or self._watched.get(job_id, (None,))[0] is not ctx:
                    continue
                self._watched[job_id] = (ctx, task, when + interval)
                try:
                    await ctx.heartbeat()
                except JobLost:
                    log.warning("job_fenced_out", job_id=ctx.job_id, fence=ctx.fence)
                    self._watched.pop(job_id, None)
                    task.cancel()
                except Exception:
                    log.warning("job_heartbeat_failed", job_id=ctx.job_id)

    async def execute(self, c: Claimed) -> str:
        """Run the handler of a claimed job to its end and record the outcome."""
        spec = get_spec(c.kind)
        ctx: JobContext | None = None
        outcome: tuple[str, Any] = ("failed", None)
        try:
            if spec is None:
                raise LookupError(f"No handler for job kind {c.kind!r} in this worker")
            ctx = self._context(c)
            ctx.stopping = self.stopping
            self.contexts[c.job_id] = ctx
            self._watch(ctx)
            limit = self.settings.time_limit(c.kind, spec.time_limit)
            deadline = asyncio.timeout(limit)
            try:
                async with deadline:
                    result = await spec.fn(ctx)
            except TimeoutError as exc:
                if not deadline.expired():
                    raise
                raise JobTimeLimit(
                    f"The attempt ran past the {c.kind} time limit of {limit:g} s"
                ) from exc
            finally:
                self._unwatch(c.job_id)
            if result is not None and not isinstance(result, dict):
                result = {"value": result}
            outcome = ("succeeded", result)
        except JobCancelled:
            outcome = ("cancelled", None)
        except JobInterrupted:
            outcome = ("interrupted", None)
        except JobLost:
            outcome = ("lost", None)
        except asyncio.CancelledError:
            outcome = ("lost", None) if ctx is not None and ctx.lost else ("interrupted", None)
            if ctx is not None and ctx.lost:
                # The heartbeat loop cancelled this task to stop a fenced-out attempt: handled.
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
            if ctx is None or not (ctx.lost or ctx.stopping):
                # Cancelled from outside (shutdown): record, then keep cancelling.
                await self._finish(c, ctx, "interrupted", None)
                raise
        except Exception as exc:
            outcome = ("error", exc)
        finally:
            self.contexts.pop(c.job_id, None)
        return await self._finish(c, ctx, *outcome)

    async def _finish(self, c: Claimed, ctx: JobContext | None, kind: str, value: Any) -> str:
        if kind == "lost":
            log.warning("job_attempt_lost", job_id=c.job_id, fence=c.fence)
            return "lost"
        now = utcnow()
        duration = int((time.monotonic() - c.started) * 1000)
        job_values: dict[str, Any] = {"lease_expires_at": None, "updated_at": now}
        if ctx is not None:
            job_values.update(ctx.progress_values())
        else:
            done, total, message, counters = c.progress
            job_values.update(
                progress_done=done,
                progress_total=total,
                progress_message=message,
                counters=counters,
                progress_percent=None,
            )
        run_values: dict[str, Any] = {"finished_at": now, "duration_ms": duration}
        release = True
        wake_delay: float | None = None
        if kind == "succeeded":
            status = "succeeded"
            job_values.update(status=status, result=value, finished_at=now, error=None)
            if ctx is not None and ctx.total is None:
                job_values["progress_percent"] = 100.0
            elif ctx is not None and ctx.total:
                job_values["progress_percent"] = ctx.percent
            run_values.update(status="succeeded", result=value)
        elif kind == "cancelled":
            status = "cancelled"
            job_values.update(status=status, finished_at=now)
            run_values.update(status="cancelled")
        elif kind == "interrupted":
            # Shutdown is not the job's fault: the attempt does not count.
            status = "queued"
            job_values.update(
                status=status, worker_id=None, attempts=Job.attempts - 1, run_after=now
            )
            run_values.update(status="interrupted")
            release = False
            wake_delay = 0.0
        else:
            exc = value
            message = error_summary(exc)
            tb = traceback_summary(exc)
            run_values.update(status="failed", error=message)
            if c.attempt < c.max_attempts and not isinstance(exc, JobTimeLimit):
                status = "queued"
                delay = backoff_seconds(
                    c.attempt,
                    self.settings.job_retry_base_seconds,
                    self.settings.job_retry_max_seconds,
                )
                job_values.update(
                    status=status,
                    worker_id=None,
                    error=message,
                    error_traceback=tb,
                    run_after=now + timedelta(seconds=delay),
                )
                release = False
                wake_delay = delay
            else:
                status = "failed"
                job_values.update(status=status, error=message, error_traceback=tb, finished_at=now)
            log.warning("job_attempt_failed", job_id=c.job_id, kind=c.kind, error=message)
        data: dict[str, Any] = {"status": status, "attempt": c.attempt}
        if kind == "error":
            data["error"] = run_values["error"]
            if status == "queued":
                data["retry_in"] = round(wake_delay or 0.0, 3)
        ev = event_row(
            c.job_id,
            status if kind != "interrupted" else "interrupted; requeued",
            data,
            now,
            level="error" if kind == "error" else "info",
        )
        written = await self._submit(
            Finish(c, job_values, run_values, release, wake_delay, ev, status)
        )
        if written == "lost":
            log.warning("job_attempt_lost", job_id=c.job_id, fence=c.fence)
            return "lost"
        observe = self.runtime.get(JOB_OBSERVER)
        if observe is not None:
            observe(c.kind, run_values["status"], duration / 1000)
        if status == "failed":
            self.failed += 1
        elif status in ("succeeded", "cancelled"):
            self.processed += 1
        return status

    async def _submit(self, finish: Finish) -> str:
        """Queue an outcome for the finisher, which writes all that are waiting in one commit."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._finishing.append((finish, fut))
        live = [t for t in self._finishers if not t.done()]
        if len(live) < self.max_finishers:
            live.append(asyncio.create_task(self._finish_loop(), name="job-finisher"))
        self._finishers = live
        return await asyncio.shield(fut)

    async def _finish_loop(self) -> None:
        while self._finishing:
            batch = self._finishing[:FINISH_BATCH]
            del self._finishing[:FINISH_BATCH]
            finishes = [f for f, _ in batch]
            plan = self.refill.refill_plan([f.claimed for f in finishes]) if self.refill else []
            try:
                finished, refills = await run_write(
                    self.runtime, partial(self._finish_and_refill, finishes, plan)
                )
            except Exception as exc:
                if self.refill is not None:
                    self.refill.refill_start(plan, None)
                log.exception("job_finish_write_failed", count=len(batch))
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            if finished.wakes:
                dispatch.notify(self.runtime.engine.sync_engine, finished.wakes)
            self._publish(finished.payloads)
            claimed: list[Claimed] = []
            for result in refills:
                for waiting_id, reason in result.waiting:
                    log.info("job_waits_for_lock", job_id=waiting_id, reason=reason)
                self._publish(result.payloads)
                claimed.extend(result.claimed)
            if self.refill is not None:
                self.refill.refill_start(plan, claimed)
            for (f, fut), ok in zip(batch, finished.written, strict=True):
                if not fut.done():
                    fut.set_result(f.status if ok else "lost")

    def _finish_and_refill(
        self, finishes: list[Finish], plan: ClaimPlan, conn: Connection
    ) -> tuple[Finished, list[ClaimResult]]:
        """Write outcomes and claim the next jobs for the slots they free: one transaction, so a
        busy pool pays one round trip per batch instead of two. The status events of both go
        in one INSERT, and all their payloads come back on `finished`."""
        events: list[dict[str, Any]] = []
        finished = finish_jobs(conn, finishes, events)
        lease = self.settings.job_lease_seconds
        refills = [
            claim_jobs(
                conn,
                worker_id=self.worker_id,
                limit=ask.limit,
                lease=lease,
                job_ids=ask.job_ids,
                queues=ask.queues,
                events=events,
            )
            for ask in plan
            if ask.limit > 0
        ]
        if events:
            finished.payloads = insert_events_on(conn, events)
        return finished, refills

    async def recover(self, session: AsyncSession, *, only_worker: str | None = None) -> int:
        """Requeue or fail jobs whose lease ran out (or, at start-up, this worker's orphans)."""
        return await recover(
            session,
            only_worker=only_worker,
            max_losses=self.settings.job_max_worker_losses,
        )
