"""The embedded executor: concurrent job slots inside `foredeck serve`, fed from the database.

Slots: while the operator has not stored the `workers` settings section, FOREDECK_WORKERS
slots are shared by all queues. Once it is stored, `workers.concurrency` gives each queue its
own slots (0: this pool does not run that queue; a queue it does not name gets the `default`
entry, else FOREDECK_WORKERS). The pool re-reads it at every heartbeat, so a change applies
within `worker_heartbeat_seconds` without a restart; jobs already running are never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import Counter
from typing import Any

from sqlalchemy import select

from foredeck.db import transaction
from foredeck.jobs import dispatch
from foredeck.jobs.controls import DRAIN, PAUSE_ALL, active_controls
from foredeck.jobs.registry import HANDLERS
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job, Worker
from foredeck.workers.identity import default_worker_id, release_worker_id, take_worker_id
from foredeck.workers.parts import WORKER_SLOTS
from foredeck.workers.runner import ClaimAsk, Claimed, ClaimPlan, JobRunner

log = get_logger(__name__)


class WorkerRecord:
    """This process's row in `workers`: registration, heartbeats and the stop mark."""

    def __init__(
        self, runtime: Runtime, *, worker_id: str, role: str, concurrency: int, queues: list[str]
    ) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.role = role
        self.concurrency = concurrency
        self.queues = queues
        self.paused = False
        self.payload: dict[str, Any] = {}

    async def register(self) -> None:
        now = utcnow()
        async with write_guard(self.runtime), transaction(self.runtime.sessionmaker) as session:
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
        async with write_guard(self.runtime), transaction(self.runtime.sessionmaker) as session:
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
            worker.concurrency = self.concurrency
            worker.processed = worker.processed + processed
            worker.failed = worker.failed + failed
            worker.running_jobs = len(running)
            worker.current_job_id = running[0] if running else None
            worker.payload = dict(self.payload)

    async def stop(self) -> None:
        async with write_guard(self.runtime), transaction(self.runtime.sessionmaker) as session:
            worker = await session.get(Worker, self.worker_id)
            if worker is not None:
                worker.status = "stopped"
                worker.stopped_at = utcnow()
                worker.running_jobs = 0
                worker.current_job_id = None


class EmbeddedExecutor:
    """Claims due jobs in batches up to its free slots and runs each in its own task."""

    def __init__(self, runtime: Runtime, *, concurrency: int, worker_id: str | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime[JOB_SETTINGS]
        self.concurrency = max(1, concurrency)
        # An id the caller or operator chose is kept as given; the default may get a suffix.
        self._chosen_id = worker_id or self.settings.worker_name
        self.worker_id = self._chosen_id or default_worker_id("embedded")
        self.runner = JobRunner(runtime, self.worker_id)
        self.record = WorkerRecord(
            runtime,
            worker_id=self.worker_id,
            role="embedded",
            concurrency=self.concurrency,
            queues=[],
        )
        self.running: dict[str, asyncio.Task[str]] = {}
        # Jobs whose outcome is being or has been written: their slot is free for a refill
        # even though their task has yet to return (counting them as busy left every other
        # refill empty, and the dispatch loop paid a claim transaction of its own for it).
        self.finishing: set[str] = set()
        # Slots promised to claims in flight, by queue ("" for the shared pool), so the
        # dispatch loop and the finisher's refill never claim the same slot twice.
        self.reserved: Counter[str] = Counter()
        self.runner.refill = self
        # Per-queue slots from the settings; None: `concurrency` slots shared by all queues.
        self.per_queue: dict[str, int] | None = None
        self.queue_of: dict[str, str] = {}
        self.known_queues: set[str] = {spec.queue for spec in HANDLERS.values()}
        self._wake = asyncio.Event()
        # The heartbeat and a control message may read the settings at once: the later read
        # must not be overwritten by an earlier one that finishes after it.
        self._slots_lock = asyncio.Lock()
        self._stopping = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._engine = runtime.engine.sync_engine

    @property
    def is_running(self) -> bool:
        return bool(self._tasks) and not self._stopping

    def wake(self, jobs: list[dispatch.Wake] | None = None) -> None:
        """Look for due jobs now (called after a commit that queued some)."""
        if jobs:
            self.known_queues.update(queue for _job, queue, _delay in jobs)
        self._wake.set()

    def slots(self, queue: str) -> int:
        """How many jobs of this queue may run at once here."""
        if self.per_queue is None:
            return self.concurrency
        if queue in self.per_queue:
            return self.per_queue[queue]
        return self.per_queue.get("default", self.concurrency)

    @property
    def total_slots(self) -> int:
        if self.per_queue is None:
            return self.concurrency
        return sum(self.slots(q) for q in self.known_queues | set(self.per_queue))

    async def load_slots(self) -> None:
        """Read `workers.concurrency` (unset: the shared pool) and the queues that have jobs."""
        async with self._slots_lock:
            await self._load_slots()

    async def _load_slots(self) -> None:
        per_queue: dict[str, int] | None = None
        read_slots = self.runtime.get(WORKER_SLOTS)
        async with self.runtime.sessionmaker() as session:
            if read_slots is not None:
                per_queue = await read_slots(session)
            if per_queue is not None:
                # Queues named only by jobs (created with a queue of their own) get slots too.
                waiting = await session.execute(
                    select(Job.queue).distinct().where(Job.status == "queued")
                )
                self.known_queues.update(waiting.scalars())
        if per_queue != self.per_queue:
            log.info("worker_slots", worker=self.worker_id, per_queue=per_queue)
            self.per_queue = per_queue
            self._wake.set()
        self.record.concurrency = self.total_slots
        if per_queue is None:
            self.record.payload.pop("slots", None)
        else:
            known = sorted(self.known_queues | set(per_queue))
            self.record.payload["slots"] = {q: self.slots(q) for q in known}

    async def start(self) -> None:
        if not self._chosen_id:
            async with self.runtime.sessionmaker() as session:
                self._use_id(await take_worker_id(session, self.worker_id))
        try:
            await self.load_slots()
        except Exception:
            log.exception("worker_slots_unreadable", worker=self.worker_id)
        await self.record.register()
        async with write_guard(self.runtime), transaction(self.runtime.sessionmaker) as session:
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

    def _use_id(self, worker_id: str) -> None:
        self.worker_id = self.runner.worker_id = self.record.worker_id = worker_id

    async def _dispatch_loop(self) -> None:
        poll = self.settings.job_poll_seconds
        while not self._stopping:
            self._wake.clear()
            # Pause state is enforced inside the claim query, so a pause can never race a claim.
            try:
                claimed, full = await self._claim()
            except Exception:
                log.exception("job_claim_failed")
                await asyncio.sleep(poll)
                continue
            self._start(claimed)
            if full:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)

    def _free(self) -> list[tuple[str, int]]:
        """Free slots by queue ("" for the shared pool); finishing jobs count as gone."""
        gone = self.finishing
        if self.per_queue is None:
            busy = sum(1 for job_id in self.running if job_id not in gone)
            return [("", self.concurrency - busy - self.reserved[""])]
        running = Counter(q for job_id, q in self.queue_of.items() if job_id not in gone)
        return [
            (queue, self.slots(queue) - running[queue] - self.reserved[queue])
            for queue in sorted(self.known_queues | set(self.per_queue))
        ]

    def _reserve(self, free: list[tuple[str, int]]) -> ClaimPlan:
        plan: ClaimPlan = []
        for queue, n in free:
            if n > 0:
                self.reserved[queue] += n
                plan.append(ClaimAsk(n, [queue] if queue else None))
        return plan

    def _release(self, plan: ClaimPlan) -> None:
        for ask in plan:
            self.reserved[ask.queues[0] if ask.queues else ""] -= ask.limit

    def refill_plan(self, finishing: list[Claimed]) -> ClaimPlan:
        """Refill: the slots the finishing jobs free, claimed in their finish transaction."""
        # Pause is enforced by the claim query itself, as for the dispatch loop.
        self.finishing.update(c.job_id for c in finishing)
        if self._stopping:
            return []
        return self._reserve(self._free())

    def refill_start(self, plan: ClaimPlan, claimed: list[Claimed] | None) -> None:
        self._release(plan)
        self._start(claimed or [])

    def _start(self, claimed: list[Claimed]) -> None:
        for c in claimed:
            task = asyncio.create_task(self._run(c), name=f"job-{c.job_id}")
            self.running[c.job_id] = task
            self.queue_of[c.job_id] = c.queue

    async def _claim(self) -> tuple[list[Claimed], bool]:
        """Claim due jobs into the free slots; full when a claim filled all it asked for."""
        plan = self._reserve(self._free())
        claimed: list[Claimed] = []
        full = False
        try:
            for ask in plan:
                got = await self.runner.claim(limit=ask.limit, queues=ask.queues)
                claimed.extend(got)
                full = full or len(got) == ask.limit
        finally:
            self._release(plan)
        return claimed, full

    async def _run(self, c: Claimed) -> str:
        try:
            return await self.runner.execute(c)
        except Exception:
            log.exception("job_runner_crashed", job_id=c.job_id)
            return "error"
        finally:
            self.running.pop(c.job_id, None)
            self.queue_of.pop(c.job_id, None)
            self.finishing.discard(c.job_id)
            self._wake.set()

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            try:
                await self.load_slots()
            except Exception as exc:
                log.warning("worker_slots_unreadable", worker=self.worker_id, error=repr(exc))
            try:
                await self.record.beat(self.runner, list(self.running))
            except Exception as exc:
                log.warning("worker_heartbeat_failed", worker=self.worker_id, error=repr(exc))
            if not self.record.paused:
                self._wake.set()
            await asyncio.sleep(self.settings.worker_heartbeat_seconds)

    async def refresh(self) -> None:
        """Apply pause / resume and the slot settings now instead of at the next heartbeat."""
        await self.load_slots()
        await self.record.beat(self.runner, list(self.running))
        self._wake.set()

    async def _control_loop(self) -> None:
        """Controls are published after they commit; apply them at once."""
        pubsub = self.runtime.pubsub
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
        self.runner.interrupt()
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
        release_worker_id(self.worker_id)
        log.info("executor_stopped", worker=self.worker_id)


async def load_worker(runtime: Runtime, worker_id: str) -> Worker | None:
    async with runtime.sessionmaker() as session:
        return (await session.execute(select(Worker).where(Worker.id == worker_id))).scalar()
