"""The telemetry publisher: every interval, one process (the lock holder) snapshots the cluster,
stores a sample and publishes it, and now and then prunes old samples; every process keeps
its latest snapshot for the API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import Any

from foredeck.db import transaction
from foredeck.jobs import locks
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.background import logged_failure
from foredeck.kit.runtime import Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.telemetry import service as telemetry_service

log = get_logger(__name__)
LEADER_LOCK = "foredeck:telemetry"


class TelemetryPublisher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime[JOB_SETTINGS]
        self.source = f"{socket.gethostname()}:{os.getpid()}"
        self.latest: dict[str, Any] | None = None
        self.latest_at = 0.0
        self.is_leader = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def interval(self) -> float:
        return float(self.settings.telemetry_interval_seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="foredeck-telemetry")

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            with logged_failure("telemetry_tick_failed"):
                await self.tick()
            await asyncio.sleep(max(0.05, self.interval - (time.monotonic() - started)))

    async def _lead(self) -> bool:
        self.is_leader = await locks.try_lead(
            self.runtime, LEADER_LOCK, self.source, self.interval * 3
        )
        return self.is_leader

    async def snapshot(self) -> dict[str, Any]:
        """A fresh snapshot (also kept as the latest)."""
        async with self._lock:
            async with self.runtime.sessionmaker() as session:
                snap = await telemetry_service.collect(
                    session, self.settings.worker_heartbeat_seconds
                )
            self.latest, self.latest_at = snap, time.monotonic()
            return snap

    async def current(self) -> dict[str, Any]:
        """The latest snapshot if it is younger than the interval, else a fresh one."""
        if self.latest is not None and time.monotonic() - self.latest_at < self.interval:
            return self.latest
        return await self.snapshot()

    async def tick(self, *, record: bool | None = None) -> dict[str, Any]:
        """Snapshot now; the leader also stores and publishes it."""
        snap = await self.snapshot()
        if record is None:
            record = await self._lead()
        if record:
            async with write_guard(self.runtime), transaction(self.runtime.sessionmaker) as session:
                await telemetry_service.record(session, self.source, snap)
            pubsub = self.runtime.pubsub
            if pubsub is not None:
                await pubsub.publish("telemetry", snap)
        return snap

    async def stop(self) -> None:
        await stop_tasks(self._task)
        # Flush: the last state before shutdown is kept for the charts.
        with contextlib.suppress(Exception):
            if self.is_leader:
                await self.tick(record=True)
                await locks.step_down(self.runtime, LEADER_LOCK, self.source)
