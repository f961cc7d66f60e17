"""Start-up and shutdown of the mcp domain: the in-process API client and the HTTP sessions."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx
from fastapi import FastAPI


async def startup(app: FastAPI) -> None:
    app.state.features.add("mcp")
    stack = AsyncExitStack()
    app.state.mcp_stack = stack
    # Tool calls go through the app itself, in-process, so they pass the same middleware,
    # auth and validation as any REST request.
    app.state.mcp_http = await stack.enter_async_context(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://foredeck.internal",
            timeout=None,
        )
    )
    manager = getattr(app.state, "mcp_manager", None)
    if manager is not None:
        # The manager's task group must be left from the task that entered it, and the app's
        # start-up and shutdown may run in different tasks: give it a task of its own.
        started, stop = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(run(), name="mcp-sessions")
        app.state.mcp_task = (task, stop)
        await asyncio.wait(
            {task, asyncio.ensure_future(started.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if task.done():
            task.result()


async def shutdown(app: FastAPI) -> None:
    running = getattr(app.state, "mcp_task", None)
    if running is not None:
        task, stop = running
        stop.set()
        await task
    stack = getattr(app.state, "mcp_stack", None)
    if stack is not None:
        await stack.aclose()
