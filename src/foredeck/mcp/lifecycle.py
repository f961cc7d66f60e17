"""Start-up and shutdown of the mcp domain: the in-process API client and the HTTP sessions.

Started by the app's lifespan after every domain (tool calls are requests to the app itself),
so not in a `foredeck worker`, which has no app.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx
from fastapi import FastAPI

from foredeck.kit.runtime import Part, Runtime
from foredeck.mcp.router import MCP_HTTP, MCP_SESSIONS

STACK: Part[AsyncExitStack] = Part("mcp_stack")
# The task that holds the sessions' task group open, and the event that ends it.
SESSIONS_TASK: Part[tuple[asyncio.Task[None], asyncio.Event]] = Part("mcp_task")


async def startup(runtime: Runtime, app: FastAPI) -> None:
    runtime.features.add("mcp")
    stack = runtime[STACK] = AsyncExitStack()
    # Tool calls go through the app itself, in-process, so they pass the same middleware,
    # auth and validation as any REST request.
    runtime[MCP_HTTP] = await stack.enter_async_context(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://foredeck.internal",
            timeout=None,
        )
    )
    manager = runtime.get(MCP_SESSIONS)
    if manager is not None:
        # The manager's task group must be left from the task that entered it, and the app's
        # start-up and shutdown may run in different tasks: give it a task of its own.
        started, stop = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(run(), name="mcp-sessions")
        runtime[SESSIONS_TASK] = (task, stop)
        await asyncio.wait(
            {task, asyncio.ensure_future(started.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if task.done():
            task.result()


async def shutdown(runtime: Runtime) -> None:
    running = runtime.pop(SESSIONS_TASK)
    if running is not None:
        task, stop = running
        stop.set()
        await task
    stack = runtime.pop(STACK)
    if stack is not None:
        await stack.aclose()
