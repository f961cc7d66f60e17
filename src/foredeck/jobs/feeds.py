"""Job event feeds: one database reader per watched job, shared by all of its SSE clients.

A client joins the feed first, then catches up from the feed's memory of recent events (or,
for an older Last-Event-ID, from the database), then takes live events, skipping ids it has
sent, so nothing falls between the two. The feed reads new rows when the job's pub/sub topic
says something happened, and polls as a fallback; it never holds a session while it waits.
Reading `id > last` is safe because a job's events commit in id order: every writer of them
updates or locks the job row before it inserts (see JobContext.event).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from foredeck.jobs.context import event_payload
from foredeck.kit.runtime import Part, Runtime
from foredeck.kit.sse import DEADLINE, deadline_in
from foredeck.kit.tasks import stop_tasks
from foredeck.models.jobs import TERMINAL_STATUSES, Job, JobEvent

POLL_SECONDS = 1.0
HISTORY = 5000
END = {"end": True}
RECONNECT = {"reconnect": True}
BATCH = 1000


async def read_events(
    runtime: Runtime, job_id: str, after: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Events after an id, in order, and the job's status (None if it does not exist)."""
    async with runtime.sessionmaker() as session:
        # Status first: each read may see a newer commit, and a job's final event commits with
        # its final status, so events read after a terminal status include the last one.
        status = (await session.execute(select(Job.status).where(Job.id == job_id))).scalar()
        rows = await session.execute(
            select(JobEvent)
            .where(JobEvent.job_id == job_id, JobEvent.id > after)
            .order_by(JobEvent.id)
            .limit(BATCH)
        )
        events = [event_payload(e) for e in rows.scalars()]
    return events, status


class JobFeed:
    """Reads a job's new events once for all its watchers and keeps the recent ones in memory,
    so a burst of watchers catches up without a query each."""

    def __init__(self, runtime: Runtime, job_id: str) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.clients: set[asyncio.Queue[dict[str, Any]]] = set()
        self.last = 0
        # Events with an id above `floor` are all in `history`.
        self.floor = 0
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._wake = asyncio.Event()
        self.ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.ended = False

    def start(self) -> None:
        """Start reading; clients wait for `ready` so their catch-up follows the feed's start."""
        self._tasks = [
            asyncio.create_task(self._listen(), name=f"job-feed-listen-{self.job_id}"),
            asyncio.create_task(self._read(), name=f"job-feed-read-{self.job_id}"),
        ]

    async def _listen(self) -> None:
        pubsub = self.runtime.pubsub
        if pubsub is None:
            return
        async for _msg in pubsub.subscribe([f"job:{self.job_id}"]):
            self._wake.set()

    def _keep(self, ev: dict[str, Any]) -> None:
        if len(self.history) == self.history.maxlen:
            self.floor = self.history[0]["id"]
        self.history.append(ev)
        self.last = max(self.last, ev["id"])

    async def _read(self) -> None:
        first = True
        while True:
            if not first:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                events, status = await read_events(self.runtime, self.job_id, self.last)
            except Exception:
                await asyncio.sleep(POLL_SECONDS)
                continue
            for ev in events:
                self._keep(ev)
                self._send(ev)
            if len(events) == BATCH:
                # More are waiting: read on before anyone relies on the history.
                self._wake.set()
                continue
            if first:
                first = False
                self.ready.set()
            if status is None or status in TERMINAL_STATUSES:
                self.ended = True
                self._send(END)
                return

    def _send(self, item: dict[str, Any]) -> None:
        for queue in list(self.clients):
            queue.put_nowait(item)

    async def stop(self) -> None:
        await stop_tasks(*self._tasks, wait_seconds=5)


class JobFeeds:
    """The feeds of this process, made on first watcher and dropped with the last."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.feeds: dict[str, JobFeed] = {}

    async def watch(
        self, job_id: str, after: int, *, seconds: float | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """A job's events after an id, in order; ends after the job has ended, or yields
        RECONNECT and ends once `seconds` have passed."""
        feed = self.feeds.get(job_id)
        if feed is None or feed.ended:
            # Registered before any await, so simultaneous watchers share one feed.
            feed = JobFeed(self.runtime, job_id)
            self.feeds[job_id] = feed
            feed.start()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        feed.clients.add(queue)
        timer = deadline_in(queue, seconds) if seconds else None
        try:
            await feed.ready.wait()
            last = after
            if after < feed.floor:
                # Older than the feed remembers: read the gap from the database first.
                while last < feed.floor:
                    events, _status = await read_events(self.runtime, job_id, last)
                    events = [e for e in events if e["id"] <= feed.floor]
                    for ev in events:
                        last = ev["id"]
                        yield ev
                    if not events:
                        break
                last = max(last, feed.floor)
            for ev in [e for e in feed.history if e["id"] > last]:
                last = ev["id"]
                yield ev
            while True:
                item = await queue.get()
                if item is DEADLINE:
                    yield RECONNECT
                    return
                if item is END:
                    return
                if item["id"] <= last:
                    continue
                last = item["id"]
                yield item
        finally:
            if timer is not None:
                timer.cancel()
            feed.clients.discard(queue)
            if not feed.clients and self.feeds.get(job_id) is feed:
                del self.feeds[job_id]
                await feed.stop()

    async def close(self) -> None:
        for feed in list(self.feeds.values()):
            await feed.stop()
        self.feeds.clear()


# Provided by the jobs start-up: the per-job event streams (`/api/v1/jobs/{id}/events`).
JOB_FEEDS: Part[JobFeeds] = Part("job_feeds")
