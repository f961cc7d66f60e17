"""Redis pub/sub between two processes' hubs: batched sends arrive whole and in order."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as redis_asyncio

from foredeck.kit.pubsub import CHANNEL_PREFIX, RedisPubSub


async def _next(stream, n: int) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    out = []
    async with asyncio.timeout(5):
        while len(out) < n:
            msg = await anext(stream)
            out.append((msg.topic, msg.data))
    return out


async def test_a_burst_reaches_the_other_replica_in_order(redis_url: str) -> None:
    clients = [redis_asyncio.from_url(redis_url) for _ in range(2)]
    sender, receiver = RedisPubSub(clients[0]), RedisPubSub(clients[1])
    await sender.start()
    await receiver.start()
    try:
        stream = receiver.subscribe(["jobs", "job:7"])
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the subscription registers when the generator first runs
        # More than one PUBLISH carries (BATCH_MAX), all from one loop tick.
        futures = [sender.publish("jobs", {"i": i}) for i in range(1200)]
        futures.append(sender.publish("job:7", {"i": "last"}))
        futures.append(sender.publish("elsewhere", {"i": "unsubscribed"}))
        await asyncio.wait_for(asyncio.gather(*futures), 5)
        head = await first
        got = [(head.topic, head.data), *await _next(stream, 1200)]
        assert got == [*(("jobs", {"i": i}) for i in range(1200)), ("job:7", {"i": "last"})]

        # The single-message form, as `foredeck workers pause` sends it from the CLI.
        await clients[0].publish(
            CHANNEL_PREFIX + "jobs", json.dumps({"topic": "jobs", "data": {"cli": True}})
        )
        assert await _next(stream, 1) == [("jobs", {"cli": True})]
        await stream.aclose()
    finally:
        for pubsub in (sender, receiver):
            await pubsub.close()
        for client in clients:
            await client.aclose()


async def test_a_replica_hears_its_own_messages_once(redis_url: str) -> None:
    """Its own batches are delivered as published and skipped when Redis echoes them back."""
    client = redis_asyncio.from_url(redis_url)
    hub = RedisPubSub(client)
    await hub.start()
    try:
        stream = hub.subscribe(["jobs"])
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        await asyncio.wait_for(
            asyncio.gather(*(hub.publish("jobs", {"i": i}) for i in range(3))), 5
        )
        # Another replica's message, sent after the echo of ours would be on its way.
        await client.publish(
            CHANNEL_PREFIX + "jobs", json.dumps({"topic": "jobs", "data": {"other": True}})
        )
        head = await asyncio.wait_for(first, 5)
        got = [(head.topic, head.data), *await _next(stream, 3)]
        assert got == [*(("jobs", {"i": i}) for i in range(3)), ("jobs", {"other": True})]
        await stream.aclose()
    finally:
        await hub.close()
        await client.aclose()
