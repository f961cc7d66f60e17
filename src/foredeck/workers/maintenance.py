"""Background upkeep: recover jobs whose worker died, end finished drains, resend lost sends.

Recovery is safe to run in every process (each change is guarded by the job's fencing token);
resending lost Celery messages runs only in the process holding the `foredeck:maintenance`
lock, so replicas that start together do not both do it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import TYPE_CHECKING

from foredeck.db import transaction
from foredeck.jobs import controls as job_controls
from foredeck.jobs import locks
from foredeck.kit.background import logged_failure
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.workers.runner import JobRunner

if TYPE_CHECKING:
    pass
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import Runtime
from foredeck.workers.parts import DISPATCHER

log = get_logger(__name__)
LEADER_LOCK = "foredeck:maintenance"


class Maintenance:
    def __init__(self, runtime: Runtime, *, enabled: bool = True) -> None:
        self.runtime = runtime
        self.settings = runtime[JOB_SETTINGS]
        self.enabled = enabled
        self.holder = f"{socket.gethostname()}:{os.getpid()}:maintenance"
        self.runner = JobRunner(runtime, worker_id=self.holder)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.is_leader = False

    @property
    def interval(self) -> float:
        return max(0.05, min(self.settings.job_lease_seconds / 2, 5.0))

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._loop(), name="foredeck-maintenance")

    async def _loop(self) -> None:
        while not self._stopping:
            with logged_failure("maintenance_failed"):
                await self.tick()
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        """One round of upkeep."""
        async with write_guard(self.runtime), transaction(self.runtime.sessionmaker) as session:
            await self.runner.recover(session)
        async with write_guard(self.runtime), transaction(self.runtime.sessionmaker) as session:
            if await job_controls.finish_drain_if_empty(session):
                log.info("drain_finished")
        # Telemetry samples and finished jobs are pruned by their own domains' sweeps
        # (retention.telemetry_hours, retention.job_days).
        if await self._lead():
            dispatcher = self.runtime.get(DISPATCHER)
            if dispatcher is not None:
                await dispatcher.resend_due()

    async def _lead(self) -> bool:
        self.is_leader = await locks.try_lead(
            self.runtime, LEADER_LOCK, self.holder, self.interval * 3
        )
        return self.is_leader

    async def stop(self) -> None:
        if self._task is not None:
            # A cancel that lands inside a database await can be absorbed on the way out;
            # the flag ends the loop at its next turn, and the wait is bounded either way.
            self._stopping = True
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=self.interval + 5)
        if self.is_leader:
            with contextlib.suppress(Exception):
                await locks.step_down(self.runtime, LEADER_LOCK, self.holder)
