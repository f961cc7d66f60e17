"""Every OpenAPI operation has an MCP tool (or a documented exclusion), and every tool maps to
an operation with the same arguments."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from foredeck.mcp.operations import collect
from foredeck.mcp.router import MCP_TOOLS
from foredeck.mcp.server import WAIT_FOR_JOB
from foredeck.mcp.tools import EXCLUDED_REASONS, exclusion
from tests.client.live import openapi_operations

SEED_003_TOOLS = {"create_job", "list_jobs", "get_job", "control_job"}


def test_every_operation_has_a_tool_or_a_reason(app: FastAPI) -> None:
    in_openapi = openapi_operations(app)
    ops = collect(app)
    assert {(op.method, op.path) for op in ops} == in_openapi
    tools = runtime_of(app)[MCP_TOOLS].tools
    for op in ops:
        reason = exclusion(op)
        assert (op.name in tools) != bool(reason), (op.name, reason)
    for name, tool in tools.items():
        assert (tool.op.method, tool.op.path) in in_openapi
        assert name == tool.op.name
    # The short list is what it says: named exclusions exist, and nothing else is left out
    # but streams, files and uploads.
    names = {op.name for op in ops}
    assert set(EXCLUDED_REASONS) <= names
    assert SEED_003_TOOLS <= set(tools)
    delete_job = tools["delete_job"]
    assert (delete_job.op.method, delete_job.op.path) == ("DELETE", "/api/v1/jobs/{job_id}")
    assert delete_job.annotations["destructive_hint"] is True
    assert delete_job.input_schema["required"] == ["job_id"]
    assert WAIT_FOR_JOB not in names
    for verb in ("list", "get", "create", "update", "delete"):
        assert f"{verb}_server" in tools or f"{verb}_servers" in tools


def test_tool_arguments_are_the_rest_contract(app: FastAPI) -> None:
    tools = runtime_of(app)[MCP_TOOLS].tools
    create = tools["create_allocation"].input_schema
    assert set(create["required"]) == {"server_id", "port", "service"}
    assert create["properties"]["port"]["maximum"] == 65535
    assert create["additionalProperties"] is False
    update = tools["update_allocation"].input_schema
    assert update["required"] == ["item_id"] and "port" in update["properties"]
    listing = tools["list_servers"].input_schema["properties"]
    assert {"page", "per_page", "sort", "status", "q"} <= set(listing)


def test_every_reference_in_a_tool_schema_resolves(app: FastAPI) -> None:
    import json
    import re

    for tool in runtime_of(app)[MCP_TOOLS].tools.values():
        text = json.dumps(tool.input_schema)
        defs = tool.input_schema.get("$defs", {})
        for ref in re.findall(r'"\$ref": "([^"]+)"', text):
            assert ref.startswith("#/$defs/"), (tool.name, ref)
            assert ref.rsplit("/", 1)[1] in defs, (tool.name, ref)
