"""The foredeck MCP server: one tool per REST operation, plus wait_for_job with progress."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from foredeck import __version__
from foredeck.mcp.operations import Operation
from foredeck.mcp.tools import Tool, ToolError, build_tools, invoke

WAIT_FOR_JOB = "wait_for_job"
TERMINAL = {"succeeded", "failed", "cancelled"}
POLL_SECONDS = 0.25
INVALID_PARAMS = -32602

WAIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "job_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "timeout_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 3600,
            "default": 600,
            "description": "Stop waiting after this long and return the job as it is",
        },
    },
    "required": ["job_id"],
    "additionalProperties": False,
}

INSTRUCTIONS = (
    "foredeck: an operations server for text records with vector search. Every REST endpoint "
    "of /api/v1 is a tool with the same arguments (path and query parameters plus the request "
    "body's fields) and returns the same data. Long operations (imports, exports, index "
    "rebuilds, generation) start a job; call wait_for_job with its id to follow its progress."
)

# Gives the headers a call is made with: the caller's credentials.
HeadersFor = Callable[[Any], dict[str, str]]


class ToolSet:
    """The tools of one app, built on first use so routes added later are included."""

    def __init__(self, load: Callable[[], tuple[list[Operation], dict[str, Any]]]) -> None:
        self._load = load
        self._tools: dict[str, Tool] | None = None

    @property
    def tools(self) -> dict[str, Tool]:
        if self._tools is None:
            ops, components = self._load()
            self._tools = build_tools(ops, components)
        return self._tools


def _result(payload: dict[str, Any], *, error: bool = False) -> types.CallToolResult:
    text = json.dumps(payload, default=str)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=json.loads(text),
        is_error=error,
    )


def _progress_of(job: dict[str, Any]) -> tuple[float, float | None, str]:
    progress = job.get("progress") or {}
    done = float(progress.get("done") or 0)
    total = progress.get("total")
    message = progress.get("message") or job.get("status", "")
    return done, (float(total) if total else None), f"{job.get('status')}: {message}"


async def wait_for_job(
    ctx: Any, http: httpx.AsyncClient, headers: dict[str, str], arguments: dict[str, Any]
) -> types.CallToolResult:
    """Follow a job until it ends, sending MCP progress notifications as it moves."""
    unknown = sorted(set(arguments) - set(WAIT_SCHEMA["properties"]))
    job_id = arguments.get("job_id")
    timeout = arguments.get("timeout_seconds", 600)
    bad = [{"field": k, "message": "Extra inputs are not permitted"} for k in unknown]
    if not isinstance(job_id, str) or not job_id:
        bad.append({"field": "job_id", "message": "A job id is required"})
    if not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        bad.append({"field": "timeout_seconds", "message": "Between 0 and 3600 seconds"})
    if bad:
        err = ToolError(422, "VALIDATION_ERROR", "The tool arguments are not valid", bad)
        return _result(err.payload(), error=True)
    deadline = time.monotonic() + float(timeout)
    last: tuple[float, float | None, str] | None = None
    while True:
        resp = await http.get(f"/api/v1/jobs/{job_id}", headers=headers)
        if resp.status_code >= 400:
            try:
                e = resp.json()["error"]
                err = ToolError(resp.status_code, e["code"], e["message"], e.get("details"))
            except (ValueError, KeyError, TypeError):
                err = ToolError(resp.status_code, "HTTP_ERROR", resp.text[:500])
            return _result(err.payload(), error=True)
        job = resp.json()["data"]
        now = _progress_of(job)
        if now != last:
            last = now
            await ctx.session.report_progress(now[0], now[1], now[2])
        if job["status"] in TERMINAL:
            return _result({"data": job, "meta": {"timed_out": False}})
        if time.monotonic() >= deadline:
            return _result({"data": job, "meta": {"timed_out": True}})
        await asyncio.sleep(POLL_SECONDS)


def build_server(
    toolset: ToolSet, http: Callable[[], httpx.AsyncClient], headers_for: HeadersFor
) -> Server[Any]:
    """A low-level MCP server whose tools call the API through `http()`."""

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        tools = [
            types.Tool(
                name=t.name,
                description=t.description,
                input_schema=t.input_schema,
                annotations=types.ToolAnnotations(**t.annotations),
            )
            for t in toolset.tools.values()
        ]
        tools.append(
            types.Tool(
                name=WAIT_FOR_JOB,
                description="Wait for a job to finish, reporting its progress as MCP progress "
                "notifications; returns the job. REST: polls GET /api/v1/jobs/{job_id}",
                input_schema=WAIT_SCHEMA,
                annotations=types.ToolAnnotations(
                    title="Wait for a job", read_only_hint=True, open_world_hint=False
                ),
            )
        )
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = params.arguments or {}
        headers = headers_for(ctx)
        if params.name == WAIT_FOR_JOB:
            return await wait_for_job(ctx, http(), headers, arguments)
        tool = toolset.tools.get(params.name)
        if tool is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        try:
            payload = await invoke(http(), tool, arguments, headers)
        except ToolError as exc:
            return _result(exc.payload(), error=True)
        return _result(payload)

    return Server(
        "foredeck",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
