"""Streamable HTTP MCP at `/mcp`, behind the API's own bearer auth and roles."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.security import HTTPAuthorizationCredentials
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from foredeck.auth.deps import resolve_principal
from foredeck.errors import AppError
from foredeck.kit.deps import LazySession
from foredeck.kit.envelope import error_response
from foredeck.kit.runtime import Part, runtime_of
from foredeck.mcp.operations import Operation, collect
from foredeck.mcp.server import ToolSet, build_server

router = APIRouter()

# Caller headers a tool call carries into the API: the credentials and the request id.
FORWARDED = ("authorization", "x-request-id")


def caller_headers(app: FastAPI, headers: Any) -> dict[str, str]:
    """The credentials of an MCP HTTP request, to make the tool's API call with."""
    names = {*FORWARDED, runtime_of(app).config.trusted_header_name.lower()}
    return {k: v for k, v in headers.items() if k.lower() in names}


def app_operations(app: FastAPI) -> tuple[list[Operation], dict[str, Any]]:
    """The app's operations and OpenAPI component schemas."""
    return collect(app), app.openapi().get("components", {}).get("schemas", {})


class AuthGate:
    """Refuses MCP traffic without valid credentials, with the API's own 401 envelope."""

    def __init__(self, app: FastAPI, inner: Any) -> None:
        self.app = app
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        # Judge exactly what a tool call will carry into the API: the forwarded headers only.
        raw = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        kept = caller_headers(self.app, raw)
        state = {k: v for k, v in scope.get("state", {}).items() if k != "console_principal"}
        request = Request(
            {
                **scope,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in kept.items()],
                "state": state,
            }
        )
        scheme, _, secret = kept.get("authorization", "").partition(" ")
        creds = (
            HTTPAuthorizationCredentials(scheme=scheme, credentials=secret.strip())
            if scheme.lower() == "bearer" and secret.strip()
            else None
        )
        try:
            async with LazySession(runtime_of(self.app).sessionmaker) as session:
                await resolve_principal(request, session, creds)
        except AppError as exc:
            response = error_response(
                request, exc.status_code, exc.code, exc.message, exc.details, exc.headers
            )
            await response(scope, receive, send)
            return
        await self.inner(scope, receive, send)


def mount(app: FastAPI) -> None:
    """Serve MCP over streamable HTTP at /mcp (started and stopped by mcp.lifecycle)."""
    runtime = runtime_of(app)
    toolset = ToolSet(lambda: app_operations(app))
    server = build_server(
        toolset,
        http=lambda: runtime[MCP_HTTP],
        headers_for=lambda ctx: caller_headers(app, ctx.request.headers if ctx.request else {}),
    )
    # Stateless: any replica can answer any request, and progress streams on the call's own
    # response, so scale-out needs no sticky sessions.
    manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=False)
    runtime[MCP_SESSIONS] = manager
    runtime[MCP_TOOLS] = toolset
    app.add_route(
        "/mcp",
        AuthGate(app, StreamableHTTPASGIApp(manager)),  # type: ignore[arg-type]
        methods=["GET", "POST", "DELETE"],
        include_in_schema=False,
    )


# The tools of this app, built when its routes are mounted (the MCP parity tests read them).
MCP_TOOLS: Part[ToolSet] = Part("mcp_toolset")
# The streamable HTTP sessions behind /mcp, run by mcp.lifecycle.
MCP_SESSIONS: Part[StreamableHTTPSessionManager] = Part("mcp_manager")
# The in-process client that tool calls go through, opened by mcp.lifecycle.
MCP_HTTP: Part[httpx.AsyncClient] = Part("mcp_http")
