"""The job event stream over SSE: in order, ends with the job, resumes from Last-Event-ID."""

from __future__ import annotations

import json

import httpx

from tests.conftest import assert_error
from tests.jobs.helpers import start_test_job


def parse_sse(text: str) -> list[dict]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            fields[key] = fields.get(key, "") + value.lstrip(" ")
        if "data" in fields:
            events.append(
                {
                    "id": fields.get("id"),
                    "event": fields.get("event"),
                    "data": json.loads(fields["data"]),
                }
            )
    return events


async def test_events_arrive_in_order_and_stream_ends(
    client: httpx.AsyncClient, operator: dict
) -> None:
    job = await start_test_job(client, operator, count=5, delay=0.05)
    resp = await client.get(f"/api/v1/jobs/{job['id']}/events", headers=operator)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(resp.text)
    assert events[-1]["event"] == "end"
    body = [e for e in events if e["id"] is not None]
    ids = [int(e["id"]) for e in body]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    statuses = [e["data"]["data"]["status"] for e in body if e["event"] == "status"]
    assert statuses[0] == "queued" and statuses[-1] == "succeeded"
    dones = [e["data"]["data"]["done"] for e in body if e["event"] == "progress"]
    assert dones == sorted(dones) and dones[-1] == 5

    # Resume from the middle: only what came after, nothing twice.
    middle = ids[len(ids) // 2]
    resp = await client.get(
        f"/api/v1/jobs/{job['id']}/events",
        headers={**operator, "Last-Event-ID": str(middle)},
    )
    resumed = [int(e["id"]) for e in parse_sse(resp.text) if e["id"] is not None]
    assert resumed == [i for i in ids if i > middle]


async def test_missing_job_stream_is_404(client: httpx.AsyncClient, viewer: dict) -> None:
    assert_error(await client.get("/api/v1/jobs/nope/events", headers=viewer), 404)


async def test_many_watchers_share_one_feed_and_see_the_same_events(
    client: httpx.AsyncClient, operator: dict
) -> None:
    import asyncio

    job = await start_test_job(client, operator, count=8, delay=0.05)
    responses = await asyncio.gather(
        *[client.get(f"/api/v1/jobs/{job['id']}/events", headers=operator) for _ in range(20)]
    )
    seen = [[int(e["id"]) for e in parse_sse(r.text) if e["id"] is not None] for r in responses]
    assert all(ids == seen[0] for ids in seen)
    assert len(seen[0]) >= 3 and seen[0] == sorted(seen[0])
