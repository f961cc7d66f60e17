"""A real foredeck server on 127.0.0.1 in a background thread, sharing the test database.

The session's `app` fixture runs in pytest's event loop; SSE and browser tests need a
server that streams over real sockets, so this one runs its own app and loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any

import uvicorn
from fastapi import FastAPI

from foredeck.app import create_app
from foredeck.config import Config
from foredeck.kit.runtime import runtime_of
from foredeck.kit.server import uvicorn_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)


class LiveServer:
    """`url`, `app` and `run(coro)` to act inside the server's own event loop."""

    def __init__(self, config: Config) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app: FastAPI = create_app(config.model_copy(update={"port": self.port}))
        self.server = _Server(
            uvicorn_config(
                self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        assert self.server.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.server.loop).result(timeout)

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        async def _send() -> None:
            result = runtime_of(self.app).pubsub.publish(topic, data)
            if hasattr(result, "__await__"):
                await result

        self.run(_send())

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
