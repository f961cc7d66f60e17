"""Server-sent events helpers: bounded streams with pings, Last-Event-ID, per-topic batching.

Every foredeck stream is built from these: it holds no database session while it waits, sends
keep-alive pings, and ends after a bounded time so clients reconnect (resuming by event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sse_starlette import EventSourceResponse, ServerSentEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# `responses=` of an SSE route: the OpenAPI document then declares the stream's media type.
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A stream of server-sent events",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def last_event_id(request: Request) -> str | None:
    """The id a reconnecting client last saw: the Last-Event-ID header or ?last_event_id=."""
    value = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return value.strip() if value and value.strip() else None


def int_event_id(request: Request) -> int:
    value = last_event_id(request)
    try:
        return max(0, int(value)) if value is not None else 0
    except ValueError:
        return 0


def sse_event(
    data: Any, *, event: str | None = None, id: str | int | None = None
) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, default=str, separators=(",", ":")),
        event=event,
        id=str(id) if id is not None else None,
    )


def sse_response(
    content: AsyncIterator[ServerSentEvent | dict[str, Any] | str], *, ping_seconds: float = 15.0
) -> EventSourceResponse:
    """An EventSourceResponse with keep-alive pings and no proxy buffering."""
    return EventSourceResponse(
        content, ping=max(1, int(ping_seconds)), headers=SSE_HEADERS, send_timeout=30
    )


async def until_deadline(
    source: AsyncIterator[Any], seconds: float, request: Request | None = None
) -> AsyncIterator[Any]:
    """Pass items through until `seconds` have gone by, then say goodbye (sse-starlette itself
    stops the generator when the client leaves)."""
    deadline = time.monotonic() + seconds
    it = source.__aiter__()
    # One pending __anext__ at a time and never cancelled on a quiet spell: cancelling it
    # would close the source generator.
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if pending is None:
                pending = asyncio.ensure_future(it.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=remaining)
            if not done:
                break
            try:
                item = pending.result()
            except StopAsyncIteration:
                pending = None
                return
            pending = None
            yield item
        yield reconnect_event()
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        with contextlib.suppress(Exception):
            await it.aclose()  # type: ignore[attr-defined]


DEADLINE: Any = object()


def reconnect_event() -> ServerSentEvent:
    """The last event of a bounded stream: reconnect (with Last-Event-ID) in a second."""
    return ServerSentEvent(data="{}", event="reconnect", retry=1000)


def deadline_in(queue: asyncio.Queue[Any], seconds: float) -> asyncio.TimerHandle:
    """Put DEADLINE into a client's queue after `seconds`: a bounded stream without a timer
    task per message (the consumer just sees DEADLINE come out of its queue)."""

    def put() -> None:
        if queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
        queue.put_nowait(DEADLINE)

    return asyncio.get_running_loop().call_later(seconds, put)


@dataclass
class Batch:
    id: int
    topic: str
    items: list[Any]
    at: float = field(default_factory=time.time)

    def to_sse(self) -> ServerSentEvent:
        return sse_event(
            {"topic": self.topic, "count": len(self.items), "items": self.items, "at": self.at},
            event=self.topic.replace(":", "."),
            id=self.id,
        )


class TopicBatcher:
    """Fan pub/sub topics out to many SSE clients, batching each topic's messages per window.

    One pub/sub subscription per batcher (not per client); batches get increasing ids and the
    last `history` of them are kept so a reconnecting client resumes from Last-Event-ID.
    """

    def __init__(
        self, pubsub: Any, topics: Iterable[str], *, window: float = 0.1, history: int = 2000
    ) -> None:
        self.pubsub = pubsub
        self.topics = list(topics)
        self.window = window
        self.history: deque[Batch] = deque(maxlen=history)
        self._ids = itertools.count(1)
        self._clients: set[asyncio.Queue[Batch]] = set()
        self._pending: dict[str, list[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self.boot = int(time.time())

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._pump(), name="sse-topic-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a cancel absorbed inside an await must not hang shutdown.
            await asyncio.wait({self._task}, timeout=5)
        self._task = None

    async def _pump(self) -> None:
        while True:
            try:
                source = self.pubsub.subscribe(self.topics)
                flush_at: float | None = None
                it = source.__aiter__()
                while True:
                    timeout = None if flush_at is None else max(0.0, flush_at - time.monotonic())
                    try:
                        msg = await asyncio.wait_for(it.__anext__(), timeout)
                    except TimeoutError:
                        self.flush()
                        flush_at = None
                        continue
                    self._pending.setdefault(msg.topic, []).append(msg.data)
                    if flush_at is None:
                        flush_at = time.monotonic() + self.window
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1.0)

    def flush(self) -> list[Batch]:
        """Turn what arrived in this window into one batch per topic and hand it out."""
        pending, self._pending = self._pending, {}
        batches = [Batch(next(self._ids), topic, items) for topic, items in pending.items()]
        for batch in batches:
            self.history.append(batch)
            for queue in list(self._clients):
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(batch)
        return batches

    def since(self, last_id: str | None, topics: set[str]) -> list[Batch] | None:
        """Batches after an id for these topics; None when that id is too old to resume from."""
        if last_id is None:
            return []
        try:
            boot, _, seq_s = last_id.partition("-")
            seq = int(seq_s)
        except ValueError:
            return None
        if int(boot) != self.boot:
            return None
        if self.history and seq < self.history[0].id - 1:
            return None
        return [b for b in self.history if b.id > seq and b.topic in topics]

    def event_id(self, batch: Batch) -> str:
        return f"{self.boot}-{batch.id}"

    async def stream(
        self, topics: set[str], last_id: str | None = None, *, seconds: float | None = None
    ) -> AsyncIterator[ServerSentEvent]:
        """The events one client sees: what it missed, then live batches of its topics; after
        `seconds` a `reconnect` event ends the stream."""
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)
        self._clients.add(queue)
        timer = deadline_in(queue, seconds) if seconds else None
        try:
            missed = self.since(last_id, topics)
            if missed is None:
                yield sse_event({"reason": "resume point is gone"}, event="resync")
                missed = []
            for batch in missed:
                yield self._sse(batch)
            while True:
                batch = await queue.get()
                if batch is DEADLINE:
                    yield reconnect_event()
                    return
                if batch.topic in topics:
                    yield self._sse(batch)
        finally:
            if timer is not None:
                timer.cancel()
            self._clients.discard(queue)

    def _sse(self, batch: Batch) -> ServerSentEvent:
        event = batch.to_sse()
        event.id = self.event_id(batch)
        return event
