"""`foredeck mcp`: MCP over stdio, against the local data directory or a remote server."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
from fastapi import FastAPI
from mcp.server.stdio import stdio_server

from foredeck.config import Config
from foredeck.kit.runtime import runtime_of
from foredeck.mcp.router import MCP_HTTP, app_operations
from foredeck.mcp.server import ToolSet, build_server


async def _local_token(app: FastAPI, username: str) -> str:
    """A bearer token for a local user (this process can read the data directory's secret)."""
    from foredeck.auth import service as auth_service
    from foredeck.db import transaction

    async with transaction(runtime_of(app).sessionmaker) as session:
        user = await auth_service.get_by_username(session, username)
        if user is None or not user.is_active:
            raise SystemExit(f"foredeck mcp: no active user named {username}")
        config = runtime_of(app).config
        token, _ = auth_service.issue_token(
            config.resolved_secret_key, user, config.token_ttl_seconds
        )
        return str(token)


async def serve_stdio(
    config: Config,
    create_app: Callable[[Config], FastAPI],
    *,
    url: str | None,
    token: str | None,
    user: str | None,
) -> None:
    """Serve MCP on stdin/stdout until the client closes it; `create_app` is the app's factory,
    handed in by the CLI (the app includes this package's router, so it is not imported here)."""
    async with AsyncExitStack() as stack:
        # Claim stdout for the protocol before anything (start-up banners, logs) can print.
        read, write = await stack.enter_async_context(stdio_server())
        if url:
            # The tool list comes from this package's routes; the calls go to the server.
            with tempfile.TemporaryDirectory() as tmp:
                local = create_app(Config(data_dir=Path(tmp)))
                ops = app_operations(local)
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=None))
        else:
            app = create_app(config)
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = runtime_of(app)[MCP_HTTP]
            ops = app_operations(app)
            if user and not token:
                token = await _local_token(app, user)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        server = build_server(
            ToolSet(lambda: ops), http=lambda: http, headers_for=lambda c: headers
        )
        await server.run(read, write, server.create_initialization_options())
