"""Celery on Redis: the scale-out executor. State stays in the database; Celery carries job ids.

The API sends `foredeck.run_job(job_id)` only after the job row commits. A `foredeck worker`
process runs the foredeck app's lifespan on its own event loop thread and executes each task
there through the same JobRunner as the embedded pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from celery import Celery
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.db import transaction
from foredeck.jobs import dispatch
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from foredeck.workers.broker import TRANSPORT
from foredeck.workers.claims import claimable

log = get_logger(__name__)
TASK_NAME = "foredeck.run_jobs"
# Jobs that commit together (a bulk create or retry, a resend) travel in one message of up to
# this many ids: the broker's per-message cost was most of a no-op job's. Kept at a worker's
# usual concurrency, so one message does not hold back more work than one worker can start.
MESSAGE_JOBS = 16

CELERY_CONF: dict[str, Any] = {
    "task_serializer": "json",
    "accept_content": ["json"],
    "task_ignore_result": True,
    "enable_utc": True,
    "worker_hijack_root_logger": False,
    "broker_connection_retry_on_startup": True,
    "task_default_queue": "default",
    "worker_prefetch_multiplier": 8,
    # foredeck's broker URLs are Redis URLs; the transport is kombu's, minus a client per call.
    "broker_transport": TRANSPORT,
    # Messages only say "these jobs are due": the database holds the jobs, and the resend
    # sweep sends again any queued job nobody claimed. So a worker tracks the messages it holds
    # in memory (its prefetch still bounds them, and a warm shutdown puts them back) instead
    # of two Redis transactions per message to keep a copy in an unacked hash.
    "broker_transport_options": {"ack_emulation": False},
}
celery_app = Celery("foredeck")
celery_app.conf.update(CELERY_CONF)
_clients: dict[str, Celery] = {}


def client_for(redis_url: str) -> Celery:
    """The Celery app that sends to and controls this broker.

    A Celery app keeps the connections it opened first, so changing `broker_url` later does
    not move them; an app per URL keeps two scale-out apps in one process (tests, an embedded
    tool) from sending to each other's broker.
    """
    client = _clients.get(redis_url)
    if client is None:
        client = Celery("foredeck", broker=redis_url, set_as_current=False)
        client.conf.update(CELERY_CONF)
        _clients[redis_url] = client
    return client


def configure(redis_url: str) -> Celery:
    """Point the Celery app at foredeck's Redis."""
    celery_app.conf.broker_url = redis_url
    return celery_app


def _seconds_until(eta: str | None) -> float:
    if not eta:
        return 0.0
    when = datetime.fromisoformat(eta)
    if when.tzinfo is None:
        # Celery writes a naive eta in UTC when `enable_utc` is on (foredeck's setting).
        when = when.replace(tzinfo=UTC)
    return (when - utcnow()).total_seconds()


def run_jobs_strategy(task: Any, app: Any, consumer: Any, **_kw: Any) -> Any:
    """How the worker takes a `run_jobs` message: straight to the runtime's event loop.

    Celery's default path builds a request, hands it to a pool thread and traces it, and that
    thread then waits for the event loop that runs the job anyway: per message that was more
    interpreter time than the no-op job itself. Here the consumer decodes the ids and passes
    them on; the message is acked once its jobs are claimed (or found taken), so the worker's
    prefetch count still bounds how much it holds.
    """

    connection_errors = consumer.connection_errors
    ack_log = logging.getLogger("foredeck.celery")

    def handle(message: Any, _payload: Any, ack: Any, reject: Any, _callbacks: Any) -> None:
        runtime = WorkerRuntime.current
        if runtime is None:
            # Not started (or stopped): unacked, the broker gives the message back at close.
            return
        try:
            args = message.decode()[0]
            job_ids = [str(job_id) for job_id in args[0]]
            delay = _seconds_until(message.headers.get("eta"))
        except Exception:
            # Not something foredeck sent: dropped, and the worker goes on consuming.
            log.warning("worker_message_malformed", body=repr(message.body)[:200])
            reject(ack_log, connection_errors)
            return
        runtime.accept(job_ids, partial(ack, ack_log, connection_errors), delay)

    return handle


@celery_app.task(name=TASK_NAME, Strategy="foredeck.workers.celery_app:run_jobs_strategy")
def run_jobs(job_ids: list[str]) -> list[str]:
    """Run one attempt of each job in this worker process (a no-op for one not due or taken)."""
    runtime = WorkerRuntime.current
    if runtime is None:
        raise RuntimeError("foredeck worker runtime is not started")
    return runtime.run(job_ids)


def send(jobs: list[dispatch.Wake], client: Celery) -> None:
    groups: dict[tuple[str, float], list[str]] = {}
    for job_id, queue, delay in jobs:
        groups.setdefault((queue, delay), []).append(job_id)
    for (queue, delay), ids in groups.items():
        for start in range(0, len(ids), MESSAGE_JOBS):
            client.send_task(
                TASK_NAME,
                args=[ids[start : start + MESSAGE_JOBS]],
                queue=queue,
                countdown=delay or None,
            )


def _broker(runtime: Runtime) -> str:
    url = runtime.config.redis_url
    if url is None:
        raise RuntimeError("scale-out needs FOREDECK_REDIS_URL")
    return url


class CeleryDispatcher:
    """In `foredeck serve` (scale-out): hands committed jobs to Celery."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.client = client_for(_broker(runtime))
        self._engine = runtime.engine.sync_engine
        self._queued: list[dispatch.Wake] = []
        self._sender: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        dispatch.register_waker(self._engine, self.wake)
        self._listener = asyncio.create_task(self._control_loop(), name="celery-dispatch-control")

    async def _control_loop(self) -> None:
        """On resume or undrain, resend what paused workers skipped instead of waiting a sweep."""
        pubsub = self.runtime.pubsub
        if pubsub is None:
            return
        while True:
            try:
                async for msg in pubsub.subscribe(["workers"]):
                    action = str(msg.data.get("action", ""))
                    if msg.data.get("control") and action.startswith(("resume", "undrain")):
                        await self.resend_due(everything=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("celery_dispatch_listener_failed")
                await asyncio.sleep(1)

    def wake(self, jobs: list[dispatch.Wake]) -> None:
        # Commits that land while a send is under way go out together in the next one, so a
        # burst of single-job requests costs the broker a message per batch, not per job.
        self._queued.extend(jobs)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(
                self._send_queued(), name="celery-dispatch-send"
            )

    async def _send_queued(self) -> None:
        while self._queued:
            jobs, self._queued = self._queued, []
            await asyncio.to_thread(self._send, jobs)

    def _send(self, jobs: list[dispatch.Wake]) -> None:
        try:
            send(jobs, self.client)
        except Exception:
            # The maintenance loop resends jobs nobody picked up.
            log.exception("celery_send_failed", count=len(jobs))

    async def resend_due(self, *, everything: bool = False) -> int:
        """Send again queued jobs that are due but were not picked up (lost message, pause)."""
        wait = 0 if everything else self.runtime[JOB_SETTINGS].dispatch_resend_seconds
        async with transaction(self.runtime.sessionmaker) as session:
            rows = await mark_resent(session, wait_seconds=wait)
        if not rows:
            return 0
        # Sent once committed: a worker's claim of these jobs would otherwise wait for this
        # transaction (its row locks on PostgreSQL, the write lock on SQLite).
        await asyncio.to_thread(self._send, [(job_id, queue, 0.0) for job_id, queue in rows])
        return len(rows)

    def stop(self) -> None:
        dispatch.unregister_waker(self._engine, self.wake)
        # Jobs not sent yet stay queued in the database; the resend sweep hands them over.
        for task in (self._listener, self._sender):
            if task is not None:
                task.cancel()


async def mark_resent(session: AsyncSession, *, wait_seconds: float) -> list[tuple[str, str]]:
    """Due jobs not sent in the last wait_seconds, as (id, queue), stamped as sent now."""
    now = utcnow()
    cutoff = now - timedelta(seconds=wait_seconds)
    rows = (
        await session.execute(
            select(Job.id, Job.queue)
            .where(
                claimable(now, ""),
                or_(Job.dispatched_at.is_(None), Job.dispatched_at < cutoff),
            )
            .order_by(Job.priority.desc(), Job.created_at)
            .limit(1000)
        )
    ).all()
    if rows:
        await session.execute(
            update(Job)
            .where(Job.id.in_([r.id for r in rows]))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    return [(r.id, r.queue) for r in rows]


async def celery_health(runtime: Runtime) -> str:
    """connected when a worker answers a ping, no_workers when only the broker answers."""
    client = client_for(_broker(runtime))

    def ping() -> str:
        try:
            replies = client.control.ping(timeout=0.5)
        except Exception:
            return "disconnected"
        return "connected" if replies else "no_workers"

    return await asyncio.to_thread(ping)


class WorkerRuntime:
    """foredeck inside a Celery worker: its runtime, started on a private event loop thread.

    `running` starts and stops every domain on the runtime (the app's `running`, handed in
    by the CLI: the engine does not import the app that composes it).
    """

    current: WorkerRuntime | None = None

    def __init__(
        self,
        runtime: Runtime,
        running: Callable[[Runtime], AbstractAsyncContextManager[Any]],
        worker_id: str,
        queues: list[str],
        concurrency: int,
    ) -> None:
        self.runtime = runtime
        self._running = running
        self.worker_id = worker_id
        self.queues = queues
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._lifespan: Any = None
        self.runner: Any = None
        self.record: Any = None
        self._beat: Any = None
        self._listen: Any = None
        self._consuming = True
        self.pool: Any = None

    def start(self) -> None:
        from foredeck.workers.embedded import WorkerRecord
        from foredeck.workers.message_pool import MessagePool
        from foredeck.workers.runner import JobRunner

        self._thread.start()
        runtime = self.runtime
        runtime.worker_process = True
        self._lifespan = self._running(runtime)
        self._call(self._lifespan.__aenter__())
        self.runner = JobRunner(runtime, self.worker_id)
        self.pool = MessagePool(self.runner, self.concurrency)
        self.record = WorkerRecord(
            runtime,
            worker_id=self.worker_id,
            role="celery",
            concurrency=self.concurrency,
            queues=self.queues,
        )
        self._call(self.record.register())
        self._call(self._recover_own())
        self._beat = asyncio.run_coroutine_threadsafe(self._heartbeat_loop(), self.loop)
        self._listen = asyncio.run_coroutine_threadsafe(self._control_loop(), self.loop)
        # Retries and interrupted jobs go back to Celery from here once their row commits.
        dispatch.register_waker(runtime.engine.sync_engine, self._wake)
        WorkerRuntime.current = self

    def _wake(self, jobs: list[dispatch.Wake]) -> None:
        self.loop.run_in_executor(None, send, jobs, client_for(_broker(self.runtime)))

    async def _control_loop(self) -> None:
        pubsub = self.runtime.pubsub
        if pubsub is None:
            return
        while True:
            try:
                async for msg in pubsub.subscribe(["workers"]):
                    if msg.data.get("control"):
                        await self.record.beat(self.runner, list(self.runner.contexts))
                        await asyncio.to_thread(self._apply_pause, self.record.paused)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1)

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _recover_own(self) -> None:
        from foredeck.db import transaction

        async with transaction(self.runtime.sessionmaker) as session:
            await self.runner.recover(session, only_worker=self.worker_id)

    def run(self, job_ids: list[str]) -> list[str]:
        """Run these jobs here and wait for them (the task body, for a direct call)."""
        return list(self._call(self._run_now(job_ids)))

    async def _run_now(self, job_ids: list[str]) -> list[str]:
        done = [self.loop.create_future() for _ in job_ids]
        self.pool.add(job_ids, None, done)
        return list(await asyncio.gather(*done))

    def accept(self, job_ids: list[str], ack: Any, delay: float) -> None:
        """From Celery's consumer thread: run these jobs here (not before `delay` seconds),
        then ack through `ack`."""
        self.loop.call_soon_threadsafe(self._accept, job_ids, ack, delay)

    def _accept(self, job_ids: list[str], ack: Any, delay: float) -> None:
        if delay > 0:
            # A retry's backoff: its row is not due before then. Acked now, so a long wait
            # holds no prefetch slot; if this worker dies first, the resend sweep sends it.
            ack()
            self.loop.call_later(delay, self.pool.add, job_ids, None)
            return
        self.pool.add(job_ids, ack)

    async def _heartbeat_loop(self) -> None:
        interval = self.runtime[JOB_SETTINGS].worker_heartbeat_seconds
        while True:
            try:
                await self.record.beat(self.runner, list(self.runner.contexts))
                await asyncio.to_thread(self._apply_pause, self.record.paused)
            except Exception as exc:
                log.warning("worker_heartbeat_failed", worker=self.worker_id, error=repr(exc))
            await asyncio.sleep(interval)

    def _apply_pause(self, paused: bool) -> None:
        """A paused worker stops taking messages (cancel_consumer) until resumed."""
        if paused == (not self._consuming):
            return
        for queue in self.queues:
            if paused:
                celery_app.control.cancel_consumer(queue, destination=[self.worker_id])
            else:
                celery_app.control.add_consumer(queue, destination=[self.worker_id])
        self._consuming = not paused

    def interrupt(self) -> None:
        """Warm shutdown: running handlers requeue themselves at their next check."""
        self.runner.interrupt()

    def stop(self) -> None:
        for fut in (self._beat, self._listen):
            if fut is not None:
                fut.cancel()
        try:
            # Running jobs were told to stop at their next check; let them record it.
            self._call(self.pool.drain(30), timeout=35)
            self._call(self.record.stop(), timeout=10)
            self._call(self._lifespan.__aexit__(None, None, None), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            WorkerRuntime.current = None


def say_as_log(msg: str, *_args: Any, **_kw: Any) -> None:
    """Celery's own terminal notices as log events (`foredeck worker` in JSON log mode)."""
    log.info("celery_notice", message=msg)
