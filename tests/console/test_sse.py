"""The console's live stream: payloads, batching per topic, resume without loss."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from contextlib import aclosing
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from foredeck.console.hub import CONSOLE_HUB, MAX_ITEMS_PER_BATCH, LiveHub
from foredeck.console.sse import parse_topics
from foredeck.errors import ValidationFailed
from foredeck.kit.pubsub import LocalPubSub
from foredeck.kit.runtime import runtime_of
from tests.console.helpers import console_client
from tests.console.server import LiveServer


async def _settle(hub: LiveHub, count: int) -> None:
    """Wait until the hub's pumps have taken `count` messages in (no timing assumptions)."""
    for _ in range(1000):
        if sum(hub._counts.values()) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError("the hub never received the messages")


async def test_a_burst_becomes_one_batch_per_topic() -> None:
    pubsub = LocalPubSub()
    hub = LiveHub(pubsub, window=3600)  # flushed by hand below
    await hub.start()
    try:
        await asyncio.sleep(0)
        for i in range(50):
            pubsub.publish("jobs", {"n": i})
        pubsub.publish("workers", {"w": 1})
        await _settle(hub, 51)
        batches = {b.topic: b for b in hub.flush()}
        assert set(batches) == {"jobs", "workers"}
        jobs = batches["jobs"]
        assert jobs.count == 50
        assert len(jobs.items) == MAX_ITEMS_PER_BATCH
        assert jobs.items[-1] == {"n": 49}  # the newest items are the ones kept
        assert batches["workers"].count == 1
        assert hub.flush() == []
    finally:
        await hub.stop()


async def test_replay_after_a_given_id_and_resync_when_unknown() -> None:
    hub = LiveHub(None)
    for i in range(3):
        hub.offer("jobs", {"n": i})
        hub.offer("workers", {"n": i})
        hub.flush()
    topics = frozenset({"jobs"})
    first = next(b for b in hub.ring if b.topic == "jobs")
    missed = hub.missed_since(hub.event_id(first), topics)
    assert missed is not None
    assert [b.items for b in missed] == [[{"n": 1}], [{"n": 2}]]
    assert hub.missed_since(None, topics) == []
    assert hub.missed_since("otherboot-5", topics) is None


def test_topics_are_checked() -> None:
    assert parse_topics("jobs, workers") == {"jobs", "workers"}
    assert "job:abc-123" in parse_topics("job:abc-123")
    for bad in ("", "secrets", "jobs,../x", ",".join(["jobs"] * 13)):
        with pytest.raises(ValidationFailed):
            parse_topics(bad)


async def _read_events(resp: httpx.Response, wanted: int) -> list[dict[str, Any]]:
    """Parse SSE frames until `wanted` data events (not hello/pings) have arrived."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async for line in resp.aiter_lines():
        if line == "":
            if current.get("event") not in (None, "hello") and "data" in current:
                events.append(current)
                if len(events) >= wanted:
                    return events
            current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        current[key] = value
    return events


async def _wait_for_client(server: LiveServer, count: int) -> None:
    for _ in range(2000):
        if runtime_of(server.app)[CONSOLE_HUB].client_count >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the SSE client never connected")


async def test_stream_payloads_and_resume_lose_nothing(
    app: FastAPI, live_server: LiveServer
) -> None:
    client, _csrf = await console_client(app, "viewer", base_url=live_server.url)
    topic_marker = uuid.uuid4().hex
    async with aclosing(client):
        async with client.stream("GET", "/ui/sse?topics=workers") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            assert "gzip" not in resp.headers.get("content-encoding", "")
            await _wait_for_client(live_server, 1)
            live_server.publish("workers", {"marker": topic_marker, "n": 1})
            first = (await _read_events(resp, 1))[0]
        assert first["event"] == "workers"
        payload = json.loads(first["data"])
        assert payload["topic"] == "workers" and payload["count"] >= 1
        assert {"marker": topic_marker, "n": 1} in payload["items"]
        last_id = first["id"]

        # While the browser is away, three more changes happen.
        for n in (2, 3, 4):
            live_server.publish("workers", {"marker": topic_marker, "n": n})
            live_server.run(asyncio.sleep(0.25))  # separate batches, not a timing assertion

        async with client.stream(
            "GET", "/ui/sse?topics=workers", headers={"Last-Event-ID": last_id}
        ) as resp:
            replayed = await _read_events(resp, 3)
        seen = [
            item["n"]
            for ev in replayed
            for item in json.loads(ev["data"])["items"]
            if item.get("marker") == topic_marker
        ]
        assert seen == [2, 3, 4]
        ids = [ev["id"] for ev in replayed]
        assert ids == sorted(ids, key=lambda i: int(i.split("-")[1])) and last_id not in ids


async def test_stream_refuses_unknown_topics_and_strangers(
    app: FastAPI, live_server: LiveServer
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as anon:
        resp = await anon.get("/ui/sse?topics=jobs")
        assert resp.status_code == 303 and "/ui/login" in resp.headers["location"]
    client, _ = await console_client(app, "viewer", base_url=live_server.url)
    async with aclosing(client):
        resp = await client.get("/ui/sse?topics=passwords", headers={"HX-Request": "true"})
        assert resp.status_code == 422


async def test_a_page_s_first_stream_replays_what_changed_since_it_was_rendered(
    app: FastAPI, live_server: LiveServer
) -> None:
    """A change between reading a page's data and opening its stream reaches the page.

    A fast job used to finish in that gap; no event came after, so a live page went on
    showing it unfinished.
    """
    client, _csrf = await console_client(app, "viewer", base_url=live_server.url)
    marker = uuid.uuid4().hex
    async with aclosing(client):
        page = await client.get("/ui/workers")
        assert page.status_code == 200
        found = re.search(r'id="live"[^>]*data-since="([^"]+)"', page.text)
        assert found is not None, "the page carries no cursor for its stream"
        since = found.group(1)
        live_server.publish("workers", {"marker": marker})
        live_server.run(asyncio.sleep(0.25))  # let the hub batch it before the stream opens
        async with client.stream("GET", f"/ui/sse?topics=workers&last_event_id={since}") as resp:
            replayed = await _read_events(resp, 1)
    items = [item for ev in replayed for item in json.loads(ev["data"])["items"]]
    assert {"marker": marker} in items
