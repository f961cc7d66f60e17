"""The embedded executor: N concurrent job slots inside `foredeck serve`, fed from the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

from sqlalchemy import select

from foredeck.db import transaction
from foredeck.jobs import dispatch
from foredeck.jobs.tasks import stop_tasks
from foredeck.jobs.writes import write_guard
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import Worker
from foredeck.workers.runner import Claimed, JobRunner
from foredeck.workers.service import DRAIN, PAUSE_ALL, active_controls

log = get_logger(__name__)


def default_worker_id(role: str) -> str:
    return f"{role}@{socket.gethostname()}"


class WorkerRecord:
    """This process's row in `workers`: registration, heartbeats and the stop mark."""

    def __init__(
        self, state: Any, *, worker_id: str, role: str, concurrency: int, queues: list[str]
    ) -> None:
        self.state = state
        self.worker_id = worker_id
        self.role = role
        self.concurrency = concurrency
        self.queues = queues
        self.paused = False
        self.payload: dict[str, Any] = {}

    async def register(self) -> None:
        now = utcnow()
        async with write_guard(self.state), transaction(self.state.sessionmaker) as session:
            worker = await session.get(Worker, self.worker_id)
            if worker is None:
                worker = Worker(id=self.worker_id, paused=False, processed=0, failed=0)
                session.add(worker)
            worker.host = socket.gethostname()
            worker.pid = os.getpid()
            worker.role = self.role
            worker.queues = self.queues
            worker.concurrency = self.concurrency
            worker.started_at = now
            worker.heartbeat_at = now
            worker.stopped_at = None
            worker.current_job_id = None
            worker.running_jobs = 0
            worker.payload = {}
            worker.status = "paused" if worker.paused else "running"
            self.paused = worker.paused

    async def beat(self, runner: JobRunner, running: list[str]) -> None:
        """Write liveness and counters; learn the operator's pause wish."""
        processed, failed = runner.processed, runner.failed
        runner.processed = runner.failed = 0
        async with write_guard(self.state), transaction(self.state.sessionmaker) as session:
            controls = await active_controls(session)
            worker = await session.get(Worker, self.worker_id)
            if worker is None:
                return
            self.paused = worker.paused or PAUSE_ALL in controls
            if self.paused:
                worker.status = "paused"
            elif DRAIN in controls:
                worker.status = "draining"
            else:
                worker.status = "running"
            worker.heartbeat_at = utcnow()
            worker.processed = worker.processed + processed
            worker.failed = worker.failed + failed
            worker.running_jobs = len(running)
            worker.current_job_id = running[0] if running else None
            worker.payload = dict(self.payload)

    async def stop(self) -> None:
        async with write_guard(self.state), transaction(self.state.sessionmaker) as session:
            worker = await session.get(Worker, self.worker_id)
            if worker is not None:
                worker.status = "stopped"
                worker.stopped_at = utcnow()
                worker.running_jobs = 0
                worker.current_job_id = None


class EmbeddedExecutor:
    """Claims due jobs in batches up to its free slots and runs each in its own task."""

    def __init__(self, state: Any, *, concurrency: int, worker_id: str | None = None) -> None:
        self.state = state
        self.settings = state.job_settings
        self.concurrency = max(1, concurrency)
        self.worker_id = worker_id or self.settings.worker_name or default_worker_id("embedded")
        self.runner = JobRunner(state, self.worker_id)
        self.record = WorkerRecord(
            state,
            worker_id=self.worker_id,
            role="embedded",
            concurrency=self.concurrency,
            queues=[],
        )
        self.running: dict[str, asyncio.Task[str]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._engine = state.engine.sync_engine

    @property
    def is_running(self) -> bool:
        return bool(self._tasks) and not self._stopping

    def wake(self, _jobs: list[dispatch.Wake] | None = None) -> None:
        """Look for due jobs now (called after a commit that queued some)."""
        self._wake.set()

    async def start(self) -> None:
        await self.record.register()
        async with write_guard(self.state), transaction(self.state.sessionmaker) as session:
            # Jobs this worker id held before a crash cannot still be running: take them back now.
            recovered = await self.runner.recover(session, only_worker=self.worker_id)
        if recovered:
            log.warning("jobs_recovered_at_start", count=recovered, worker=self.worker_id)
        dispatch.register_waker(self._engine, self.wake)
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="foredeck-dispatch"),
            asyncio.create_task(self._heartbeat_loop(), name="foredeck-worker-heartbeat"),
            asyncio.create_task(self._control_loop(), name="foredeck-worker-control"),
        ]
        log.info("executor_started", worker=self.worker_id, concurrency=self.concurrency)

    async def _dispatch_loop(self) -> None:
        poll = self.settings.job_poll_seconds
        while not self._stopping:
            self._wake.clear()
            free = self.concurrency - len(self.running)
            claimed: list[Claimed] = []
            # Pause state is enforced inside the claim query, so a pause can never race a claim.
            if free > 0:
                try:
                    claimed = await self.runner.claim(limit=free)
                except Exception:
                    log.exception("job_claim_failed")
                    await asyncio.sleep(poll)
                    continue
                for c in claimed:
                    task = asyncio.create_task(self._run(c), name=f"job-{c.job_id}")
                    self.running[c.job_id] = task
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)

    async def _run(self, c: Claimed) -> str:
        try:
            return await self.runner.execute(c)
        except Exception:
            log.exception("job_runner_crashed", job_id=c.job_id)
            return "error"
        finally:
            self.running.pop(c.job_id, None)
            self._wake.set()

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            try:
                await self.record.beat(self.runner, list(self.running))
            except Exception:
                log.warning("worker_heartbeat_failed", worker=self.worker_id)
            if not self.record.paused:
                self._wake.set()
            await asyncio.sleep(self.settings.worker_heartbeat_seconds)

    async def refresh(self) -> None:
        """Apply pause / resume now instead of at the next heartbeat."""
        await self.record.beat(self.runner, list(self.running))
        self._wake.set()

    async def _control_loop(self) -> None:
        """Controls are published after they commit; apply them at once."""
        pubsub = getattr(self.state, "pubsub", None)
        if pubsub is None:
            return
        while not self._stopping:
            try:
                async for msg in pubsub.subscribe(["workers"]):
                    if msg.data.get("control"):
                        await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("worker_control_listener_failed", worker=self.worker_id)
                await asyncio.sleep(1)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop claiming, let running jobs requeue at a check point, mark the worker stopped."""
        if self._stopping:
            return
        self._stopping = True
        dispatch.unregister_waker(self._engine, self.wake)
        self._wake.set()
        await stop_tasks(*self._tasks)
        for ctx in list(self.runner.contexts.values()):
            ctx.stopping = True
        pending = list(self.running.values())
        if pending:
            _done, still = await asyncio.wait(pending, timeout=grace_seconds)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=5)
        try:
            await self.record.stop()
        except Exception:
            log.warning("worker_stop_mark_failed", worker=self.worker_id)
        log.info("executor_stopped", worker=self.worker_id)


async def load_worker(state: Any, worker_id: str) -> Worker | None:
    async with state.sessionmaker() as session:
        return (await session.execute(select(Worker).where(Worker.id == worker_id))).scalar()
