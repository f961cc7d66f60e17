"""Topic pub/sub: in-process queues when embedded, Redis channels in scale-out.

`publish()` is a plain call that returns an awaitable, so `pubsub.publish(t, d)` and
`await pubsub.publish(t, d)` both work: in-process delivery happens before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any, NamedTuple

from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger

log = get_logger(__name__)
CHANNEL_PREFIX = "foredeck:"
# A subscriber that falls this far behind loses its oldest messages rather than the server's memory.
QUEUE_LIMIT = 10_000
# Batches of messages travel on one channel; a single message ({"topic", "data"}) on its
# topic's channel is understood too (`foredeck workers pause` sends one from the CLI).
BATCH_CHANNEL = CHANNEL_PREFIX + "batch"
BATCH_MAX = 500


class PubSubMessage(NamedTuple):
    topic: str
    data: dict[str, Any]


def _done() -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    return fut


class _Subscription:
    def __init__(self, topics: set[str]) -> None:
        self.topics = topics
        self.queue: asyncio.Queue[PubSubMessage] = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = 0

    def put(self, msg: PubSubMessage) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(msg)


class LocalPubSub:
    """Fan-out to subscribers of this process."""

    def __init__(self) -> None:
        self._subs: set[_Subscription] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def _deliver(self, msg: PubSubMessage) -> None:
        for sub in list(self._subs):
            if msg.topic in sub.topics or "*" in sub.topics:
                sub.put(msg)

    def publish(self, topic: str, data: dict[str, Any]) -> asyncio.Future[None]:
        """Send data to every subscriber of topic."""
        self._deliver(PubSubMessage(topic, data))
        return _done()

    async def subscribe(self, topics: Iterable[str]) -> AsyncIterator[PubSubMessage]:
        """Yield messages on these topics ("*" for all) until the consumer stops."""
        sub = _Subscription(set(topics))
        self._subs.add(sub)
        try:
            while True:
                yield await sub.queue.get()
        finally:
            self._subs.discard(sub)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._subs.clear()


class RedisPubSub(LocalPubSub):
    """One Redis pattern subscription per process, fanned out locally, so every replica
    sees every event and a thousand SSE clients cost one Redis connection. This process's
    own subscribers get its messages as they are published.

    Messages published in the same loop tick, or while a send is in flight, go out as one
    PUBLISH of a batch: a job's claim and finish each publish two messages, and a round trip
    (and a task) per message was most of a busy worker's event-loop time. One sender also
    keeps this process's messages in order.
    """

    def __init__(self, redis: Any) -> None:
        super().__init__()
        self._redis = redis
        # This process's batches go out on a channel of its own: its subscribers have them
        # already, so its reader skips them without decoding (a busy worker published, and
        # then read back and parsed, every event of every job it ran).
        self._channel = f"{BATCH_CHANNEL}:{uuid.uuid4().hex}"
        self._reader: asyncio.Task[None] | None = None
        self._buffer: list[str] = []
        self._sent: asyncio.Future[None] | None = None
        self._sender: asyncio.Task[None] | None = None

    def publish(self, topic: str, data: dict[str, Any]) -> asyncio.Future[None]:
        self._deliver(PubSubMessage(topic, data))
        # Serialised now: the caller may change data after publishing.
        self._buffer.append(json.dumps({"topic": topic, "data": data}, default=str))
        if self._sent is None:
            self._sent = asyncio.get_running_loop().create_future()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_all(), name="pubsub-sender")
        return self._sent

    async def _send_all(self) -> None:
        while self._buffer:
            sent: asyncio.Future[None] | None = None
            if len(self._buffer) <= BATCH_MAX:
                # The whole buffer: whoever awaits its future is answered by this send.
                batch, self._buffer = self._buffer, []
                sent, self._sent = self._sent, None
            else:
                batch, self._buffer = self._buffer[:BATCH_MAX], self._buffer[BATCH_MAX:]
            try:
                await self._redis.publish(self._channel, '{"batch":[' + ",".join(batch) + "]}")
            except Exception:
                log.warning("pubsub_publish_failed", count=len(batch))
            if sent is not None and not sent.done():
                sent.set_result(None)

    async def start(self) -> None:
        ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read(ready))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 5)

    async def _read(self, ready: asyncio.Event) -> None:
        own = self._channel.encode()
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                ready.set()
                async for raw in pubsub.listen():
                    if raw.get("type") != "pmessage" or raw.get("channel") == own:
                        continue
                    try:
                        body = json.loads(raw["data"])
                        for item in body["batch"] if "batch" in body else [body]:
                            self._deliver(PubSubMessage(item["topic"], item["data"]))
                    except (ValueError, KeyError, TypeError):
                        continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("pubsub_reader_reconnecting")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        await stop_tasks(self._reader, wait_seconds=5)
        await super().close()


def make_pubsub(redis: Any | None) -> LocalPubSub:
    """The pub/sub for this process: Redis-backed when a Redis client is configured."""
    return RedisPubSub(redis) if redis is not None else LocalPubSub()
