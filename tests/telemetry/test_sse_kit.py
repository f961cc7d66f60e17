"""foredeck.kit.sse: streams survive quiet spells, end at their deadline, batch per topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from foredeck.kit.pubsub import LocalPubSub
from foredeck.kit.sse import TopicBatcher, until_deadline


async def test_quiet_spell_does_not_close_the_stream() -> None:
    closed = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            yield 1
            # Longer than any internal wait, so a cancelled __anext__ would end the stream here.
            await asyncio.sleep(5.5)
            yield 2
        finally:
            closed.set()

    items = [item async for item in until_deadline(source(), 30)]
    assert items == [1, 2]
    assert closed.is_set()


async def test_deadline_ends_with_reconnect_hint() -> None:
    async def forever() -> AsyncIterator[int]:
        while True:
            await asyncio.sleep(10)
            yield 0

    items = [item async for item in until_deadline(forever(), 0.2)]
    assert len(items) == 1 and items[0].event == "reconnect"


async def test_batcher_batches_per_topic_and_resumes() -> None:
    pubsub = LocalPubSub()
    batcher = TopicBatcher(pubsub, ["a", "b"], window=0.05)
    batcher.start()
    await asyncio.sleep(0.05)
    try:
        stream = batcher.stream({"a"})
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        for i in range(3):
            pubsub.publish("a", {"i": i})
        pubsub.publish("b", {"i": 99})
        event = await asyncio.wait_for(first, 5)
        assert event.event == "a" and '"count":3' in event.data
        missed = batcher.since(f"{batcher.boot}-0", {"a", "b"})
        assert missed is not None and {b.topic for b in missed} == {"a", "b"}
        assert batcher.since("0-1", {"a"}) is None
        await stream.aclose()
    finally:
        await batcher.stop()
