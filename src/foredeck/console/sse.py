"""`/ui/sse`: the one live stream of the console, topics chosen by the page."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from foredeck.console.hub import BASE_TOPICS, CONSOLE_HUB, Batch, LiveHub
from foredeck.console.web import ConsoleRoute
from foredeck.errors import ServiceUnavailable, ValidationFailed
from foredeck.kit.runtime import get_runtime

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

JOB_TOPIC = re.compile(r"^job:[A-Za-z0-9_-]{1,64}$")
PING_EVERY = 15.0
# Streams end after this long so proxies never hold them forever; the browser reconnects
# with Last-Event-ID and misses nothing.
STREAM_LIFETIME = 300.0
MAX_TOPICS = 12


def parse_topics(raw: str) -> frozenset[str]:
    """The topics a page asked for; unknown names are refused rather than ignored."""
    topics = [t.strip() for t in raw.split(",") if t.strip()]
    if not topics:
        raise ValidationFailed.field("topics", "Name at least one topic")
    if len(topics) > MAX_TOPICS:
        raise ValidationFailed.field("topics", f"At most {MAX_TOPICS} topics")
    for topic in topics:
        if topic not in BASE_TOPICS and not JOB_TOPIC.match(topic):
            raise ValidationFailed.field("topics", f"Unknown topic '{topic}'")
    return frozenset(topics)


def format_batch(hub: LiveHub, batch: Batch) -> str:
    """The SSE frame of a batch (encoded once and shared by every client)."""
    if batch.encoded is None:
        payload = {
            "topic": batch.topic,
            "count": batch.count,
            "items": batch.items,
            "at": batch.at,
            "since": batch.since,
        }
        data = json.dumps(payload, default=str, separators=(",", ":"))
        # Event names may not contain ':' reliably in every client; job topics use '.'.
        name = batch.topic.replace(":", ".")
        batch.encoded = f"id: {hub.event_id(batch)}\nevent: {name}\ndata: {data}\n\n"
    return batch.encoded


def _control(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


async def stream(
    request: Request,
    hub: LiveHub,
    topics: frozenset[str],
    last_event_id: str | None,
    lifetime: float = STREAM_LIFETIME,
) -> AsyncIterator[str]:
    """The SSE body: replay what was missed, then live batches, pings, and a bounded end."""
    async with hub.connect(topics) as client:
        queue: asyncio.Queue[Any] = client.queue
        yield "retry: 2000\n\n"
        yield _control("hello", {"boot": hub.boot, "topics": sorted(topics), "at": time.time()})
        missed = hub.missed_since(last_event_id, topics)
        sent_up_to = 0
        if missed is None:
            yield _control("resync", {"reason": "events since your last id are gone"})
        else:
            for batch in missed:
                sent_up_to = max(sent_up_to, batch.seq)
                yield format_batch(hub, batch)
        deadline = time.monotonic() + lifetime
        while True:
            # A closed connection cancels this generator (the response watches for it).
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                batch = await asyncio.wait_for(queue.get(), min(PING_EVERY, remaining))
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if batch is None:
                return
            if client.overflowed:
                client.overflowed = False
                yield _control("resync", {"reason": "too many events; refreshing"})
            if batch.seq <= sent_up_to:
                continue
            yield format_batch(hub, batch)


@router.get("/ui/sse")
async def console_sse(request: Request, topics: str = "jobs,workers") -> StreamingResponse:
    """Batched live events for the topics a console page shows."""
    hub: LiveHub | None = get_runtime(request).get(CONSOLE_HUB)
    if hub is None:
        raise ServiceUnavailable("The live stream is not running")
    wanted = parse_topics(topics)
    last = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return StreamingResponse(
        stream(request, hub, wanted, last),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
