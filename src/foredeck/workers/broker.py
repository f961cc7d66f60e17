"""kombu's Redis transport, with one Redis client object per channel instead of one per call.

kombu builds a fresh `redis.Redis` around its connection pool for every publish, every
delivery's bookkeeping and every ack; the constructor rebuilds its table of response callbacks
each time, which was about a tenth of a busy worker's interpreter time. The client is only a
front to the pool (each command still checks a connection out), so one per pool is enough.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

TRANSPORT = "foredeck.workers.broker:Transport"


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        shared = self._shared_client
        # A reconnect drops the channel's pool; the next call builds a client on the new one.
        if shared is None or shared.connection_pool is not self.pool:
            shared = self._shared_client = self._create_client()
        yield shared


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
