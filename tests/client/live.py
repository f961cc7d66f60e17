"""Serve the session's app over real HTTP on 127.0.0.1, inside the test event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI

from foredeck.kit.server import uvicorn_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Yield the base URL of a uvicorn server for app (whose lifespan already runs)."""
    port = free_port()
    config = uvicorn_config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    """The session app over real HTTP (import this fixture into a conftest to use it)."""
    async for url in serve(app):
        yield url


def openapi_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in the app's OpenAPI document."""
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
