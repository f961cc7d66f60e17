"""How committed jobs become Celery messages on the real broker (no worker consumes them)."""

from __future__ import annotations

import base64
import json

import redis

from foredeck.workers import celery_app as fc
from tests.conftest import unique


def _messages(r: redis.Redis, queue: str) -> list[tuple[list[str], bool]]:
    """(job ids, has a countdown) of each message waiting in a queue, oldest first."""
    out = []
    for raw in reversed(r.lrange(queue, 0, -1)):
        msg = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(msg["body"]))
        assert msg["headers"]["task"] == fc.TASK_NAME
        out.append((args[0], msg["headers"].get("eta") is not None))
    return out


def test_jobs_sent_together_share_messages_of_a_bounded_size(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    queue, other = unique("q"), unique("q")
    try:
        ids = [f"job-{i}" for i in range(40)]
        wakes = [(i, queue, 0.0) for i in ids]
        wakes += [("later-1", queue, 30.0), ("elsewhere", other, 0.0), ("later-2", queue, 30.0)]
        fc.send(wakes, fc.client_for(redis_url))

        now = [m for m, delayed in _messages(r, queue) if not delayed]
        assert [len(m) for m in now] == [fc.MESSAGE_JOBS, fc.MESSAGE_JOBS, 40 - 2 * fc.MESSAGE_JOBS]
        assert [i for m in now for i in m] == ids
        # A delayed retry keeps its countdown, apart from the jobs due now.
        delayed = [m for m, d in _messages(r, queue) if d]
        assert delayed == [["later-1", "later-2"]]
        assert _messages(r, other) == [(["elsewhere"], False)]
    finally:
        r.delete(queue, other)
        r.close()
