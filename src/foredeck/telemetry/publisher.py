"""The telemetry publisher: every interval, one process (the lock holder) snapshots the cluster,
stores a sample and publishes it; every process keeps its latest snapshot for the API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import Any

from foredeck.db import transaction
from foredeck.errors import Conflict
from foredeck.jobs import locks
from foredeck.logging import get_logger
from foredeck.telemetry import service as telemetry_service

log = get_logger(__name__)
LEADER_LOCK = "foredeck:telemetry"


class TelemetryPublisher:
    def __init__(self, state: Any) -> None:
        self.state = state
        self.settings = state.job_settings
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
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("telemetry_tick_failed")
            await asyncio.sleep(max(0.05, self.interval - (time.monotonic() - started)))

    async def _lead(self) -> bool:
        try:
            async with transaction(self.state.sessionmaker) as session:
                await locks.acquire(
                    session, LEADER_LOCK, holder=self.source, lease_seconds=self.interval * 3
                )
            self.is_leader = True
        except Conflict:
            self.is_leader = False
        return self.is_leader

    async def snapshot(self) -> dict[str, Any]:
        """A fresh snapshot (also kept as the latest)."""
        async with self._lock:
            async with self.state.sessionmaker() as session:
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
            async with transaction(self.state.sessionmaker) as session:
                await telemetry_service.record(session, self.source, snap)
            pubsub = getattr(self.state, "pubsub", None)
            if pubsub is not None:
                await pubsub.publish("telemetry", snap)
        return snap

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Flush: the last state before shutdown is kept for the charts.
        with contextlib.suppress(Exception):
            if self.is_leader:
                await self.tick(record=True)
                async with transaction(self.state.sessionmaker) as session:
                    from sqlalchemy import update

                    from foredeck.models.jobs import Lock

                    await session.execute(
                        update(Lock)
                        .where(Lock.name == LEADER_LOCK, Lock.holder == self.source)
                        .values(holder=None, holder_job_id=None, expires_at=None)
                    )
