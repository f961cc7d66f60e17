"""The console's live hub: one subscription per topic for all browsers, batched per topic.

Every browser tab would otherwise hold its own pub/sub subscription and receive every single
progress tick. The hub subscribes once per topic, folds what arrives within a short window into
one batch per topic, numbers the batches and keeps the recent ones in a ring, so a reconnecting
browser gets exactly the batches it missed (or a `resync` when they are gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from foredeck.kit.background import logged_failure
from foredeck.kit.runtime import Part
from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger

log = get_logger(__name__)

# Topics every console page may ask for; `job:<id>` topics are added while a page watches them.
BASE_TOPICS = (
    "jobs",
    "workers",
    "telemetry",
    "operations",
    "index",
    "settings",
    "generator",
    "schedules",
)
BATCH_WINDOW = 0.1
RING_SIZE = 4096
MAX_ITEMS_PER_BATCH = 20


@dataclass
class Batch:
    """Everything one topic said within one window."""

    seq: int
    topic: str
    count: int
    items: list[Any]
    at: float
    # When the hub received the batch's first message (delivery latency starts there).
    since: float = 0.0
    # The SSE text, made once however many browsers receive the batch.
    encoded: str | None = None


@dataclass(eq=False)
class _Client:
    topics: frozenset[str]
    queue: asyncio.Queue[Batch | None] = field(default_factory=lambda: asyncio.Queue(1000))
    overflowed: bool = False


def _topic_and_data(message: Any, fallback: str) -> tuple[str, Any]:
    """Pub/sub messages may be (topic, data), {"topic", "data"} or an object with both."""
    if isinstance(message, tuple) and len(message) == 2:
        return str(message[0]), message[1]
    if isinstance(message, dict) and "topic" in message:
        return str(message["topic"]), message.get("data", message)
    topic = getattr(message, "topic", None)
    if topic is not None:
        return str(topic), getattr(message, "data", None)
    return fallback, message


class LiveHub:
    """Fan-out of batched pub/sub messages to console SSE connections."""

    def __init__(self, pubsub: Any | None, window: float = BATCH_WINDOW) -> None:
        self.pubsub = pubsub
        self.window = window
        self.boot = secrets.token_hex(4)
        self._seq = itertools.count(1)
        self._last_seq = 0
        self.ring: deque[Batch] = deque(maxlen=RING_SIZE)
        self._pending: dict[str, list[Any]] = {}
        self._counts: dict[str, int] = {}
        self._since: dict[str, float] = {}
        self._clients: set[_Client] = set()
        self._subscriptions: dict[str, asyncio.Task[None]] = {}
        self._refs: dict[str, int] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(), name="console-hub-flush")
        for topic in BASE_TOPICS:
            self._subscribe(topic)

    async def stop(self) -> None:
        tasks = [*self._subscriptions.values()]
        if self._flusher is not None:
            tasks.append(self._flusher)
        await stop_tasks(*tasks, wait_seconds=5)
        self._subscriptions.clear()
        for client in list(self._clients):
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(None)

    def _subscribe(self, topic: str) -> None:
        if self.pubsub is None or topic in self._subscriptions:
            return
        self._subscriptions[topic] = asyncio.create_task(
            self._pump(topic), name=f"console-hub-{topic}"
        )

    async def _pump(self, topic: str) -> None:
        pubsub = self.pubsub
        assert pubsub is not None
        while True:
            with logged_failure("console_hub_subscription_failed", topic=topic):
                async for message in pubsub.subscribe([topic]):
                    name, data = _topic_and_data(message, topic)
                    self.offer(name, data)
            # A subscription that ended (e.g. Redis restarted) is made again after a pause.
            await asyncio.sleep(1.0)

    def offer(self, topic: str, data: Any) -> None:
        """Queue one message for the next batch of its topic."""
        if topic not in self._pending:
            self._since[topic] = time.time()
        items = self._pending.setdefault(topic, [])
        self._counts[topic] = self._counts.get(topic, 0) + 1
        items.append(data)
        if len(items) > MAX_ITEMS_PER_BATCH:
            del items[0]
        self._wake.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            # Waiting a window after the first message folds a burst into one batch.
            await asyncio.sleep(self.window)
            self._wake.clear()
            self.flush()

    def flush(self) -> list[Batch]:
        """Turn pending messages into numbered batches and hand them to clients."""
        pending, counts, since = self._pending, self._counts, self._since
        self._pending, self._counts, self._since = {}, {}, {}
        batches = []
        now = time.time()
        for topic, items in pending.items():
            batch = Batch(
                next(self._seq),
                topic,
                counts.get(topic, len(items)),
                items,
                now,
                since.get(topic, now),
            )
            self.ring.append(batch)
            self._last_seq = batch.seq
            batches.append(batch)
            for client in self._clients:
                if topic in client.topics:
                    try:
                        client.queue.put_nowait(batch)
                    except asyncio.QueueFull:
                        client.overflowed = True
        return batches

    def event_id(self, batch: Batch) -> str:
        return f"{self.boot}-{batch.seq}"

    def cursor(self) -> str:
        """The id of the newest batch so far: a page rendered now is current up to it.

        A page's first stream resumes from here, so what changed between reading the page's
        data and opening its stream is replayed instead of lost (a fast job could otherwise
        finish in that gap and leave a live page showing it unfinished).
        """
        return f"{self.boot}-{self._last_seq}"

    def missed_since(self, last_event_id: str | None, topics: frozenset[str]) -> list[Batch] | None:
        """Batches after `last_event_id` for these topics; None when they cannot be replayed."""
        if not last_event_id:
            return []
        boot, _, seq_text = last_event_id.partition("-")
        if boot != self.boot or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        if self.ring and seq < self.ring[0].seq - 1:
            return None
        return [b for b in self.ring if b.seq > seq and b.topic in topics]

    @contextlib.asynccontextmanager
    async def connect(self, topics: frozenset[str]) -> AsyncIterator[_Client]:
        """Register a browser for some topics for the life of its SSE response."""
        client = _Client(topics)
        extra = [t for t in topics if t not in BASE_TOPICS]
        for topic in extra:
            self._refs[topic] = self._refs.get(topic, 0) + 1
            self._subscribe(topic)
        self._clients.add(client)
        try:
            yield client
        finally:
            self._clients.discard(client)
            for topic in extra:
                self._refs[topic] -= 1
                if self._refs[topic] <= 0:
                    self._refs.pop(topic, None)
                    task = self._subscriptions.pop(topic, None)
                    if task is not None:
                        task.cancel()

    def drop_clients(self) -> int:
        """End every open stream (browsers reconnect and resume from their last id)."""
        clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(None)
        return len(clients)

    @property
    def client_count(self) -> int:
        return len(self._clients)


# Provided by the console start-up (none in a `foredeck worker`).
CONSOLE_HUB: Part[LiveHub] = Part("console_hub")
