"""MCP tools made from the REST operations, called through the API itself.

A tool call becomes the same HTTP request a REST client would send, made in-process through
the ASGI app (or to a remote server) with the caller's credentials, so auth, roles,
validation, services and error envelopes are the API's own: parity by construction.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import httpx

from foredeck.mcp.operations import Operation

# Operations with no tool, and why (the parity test reads this list).
EXCLUDED_REASONS: dict[str, str] = {
    "create_token": "login: MCP callers authenticate with a bearer token or API key",
    "get_health": "health probe for load balancers",
    "get_liveness": "health probe for load balancers",
    "get_readiness": "health probe for load balancers",
    "get_metrics": "Prometheus scrape endpoint (text format)",
}
EXCLUDED_KINDS = {
    "stream": "server-sent event stream: use wait_for_job for progress",
    "raw": "file download or non-JSON response",
    "upload": "multipart file upload",
}


def exclusion(op: Operation) -> str | None:
    """Why an operation has no tool, or None when it has one."""
    if op.name in EXCLUDED_REASONS:
        return EXCLUDED_REASONS[op.name]
    if op.stream:
        return EXCLUDED_KINDS["stream"]
    if op.response_kind == "raw":
        return EXCLUDED_KINDS["raw"]
    if op.body_media and op.body_media != "application/json":
        return EXCLUDED_KINDS["upload"]
    return None


@dataclass
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    op: Operation
    flat_body: bool  # body fields are top-level arguments (else under "body")
    annotations: dict[str, Any]


class ToolError(Exception):
    """A tool call that failed with the API's error envelope (or before reaching it)."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    def payload(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/components/schemas/", "#/$defs/")
                if k == "$ref" and isinstance(v, str)
                else _rewrite(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def _with_defs(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The schema with the component schemas it refers to, as JSON Schema $defs."""
    needed: set[str] = set()
    _refs(schema, needed)
    seen: set[str] = set()
    while needed - seen:
        name = (needed - seen).pop()
        seen.add(name)
        _refs(components.get(name, {}), needed)
    out = _rewrite(schema)
    if seen:
        out["$defs"] = {n: _rewrite(components[n]) for n in sorted(seen) if n in components}
    return out  # type: ignore[no-any-return]


def _body_object(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any] | None:
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:  # an optional body
        schema = options[0]
    ref = schema.get("$ref", "")
    target = components.get(ref.rsplit("/", 1)[1]) if ref else schema
    if target and target.get("type") == "object" and "properties" in target:
        return target
    return None


def _free_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" and "properties" not in schema


def _role_hint(op: Operation) -> dict[str, Any]:
    read_only = op.method == "GET"
    return {
        "title": op.summary or op.name,
        "read_only_hint": read_only,
        "destructive_hint": op.method == "DELETE",
        "idempotent_hint": op.method in ("GET", "PUT", "DELETE"),
        "open_world_hint": False,
    }


def build_tool(op: Operation, components: dict[str, Any]) -> Tool:
    """One tool for an operation: parameters and body fields become the arguments."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for p in op.params:
        prop = dict(p.schema)
        if p.description and "description" not in prop:
            prop["description"] = p.description
        props[p.ident] = prop
        if p.required:
            required.append(p.ident)
    flat = free = False
    inline_defs: dict[str, Any] = {}
    if op.body_schema is not None:
        body = _body_object(op.body_schema, components)
        if _free_object(op.body_schema) and not props:
            # A free-form document body (e.g. a schema to validate): its keys are the arguments.
            flat = free = True
        elif body is not None and not set(body["properties"]) & set(props):
            flat = True
            props.update(copy.deepcopy(body["properties"]))
            # A body schema written inline (openapi_extra) carries its own definitions.
            inline_defs = copy.deepcopy(body.get("$defs", {}))
            if op.body_required:
                required.extend(body.get("required", []))
        else:
            props["body"] = dict(op.body_schema)
            if op.body_required:
                required.append("body")
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": free}
    if required:
        schema["required"] = sorted(set(required))
    where = f"{op.method} {op.path}"
    text = (op.description or op.summary or op.name).strip()
    input_schema = _with_defs(schema, components)
    if inline_defs:
        input_schema.setdefault("$defs", {}).update(inline_defs)
    return Tool(
        name=op.name,
        description=f"{text}\n\nREST: {where}",
        input_schema=input_schema,
        op=op,
        flat_body=flat,
        annotations=_role_hint(op),
    )


def build_tools(ops: list[Operation], components: dict[str, Any]) -> dict[str, Tool]:
    """A tool for every operation that is not excluded."""
    return {op.name: build_tool(op, components) for op in ops if exclusion(op) is None}


def split_arguments(tool: Tool, arguments: dict[str, Any]) -> tuple[dict, dict, Any]:
    """(path, query, body) for the request; unknown arguments are a ValidationError."""
    known = {p.ident: p for p in tool.op.params}
    path: dict[str, Any] = {}
    query: dict[str, Any] = {}
    body: Any = None
    body_fields: dict[str, Any] = {}
    allowed = set(tool.input_schema["properties"])
    unknown = sorted(set(arguments) - allowed)
    if unknown and not tool.input_schema.get("additionalProperties"):
        raise ToolError(
            422,
            "VALIDATION_ERROR",
            "The tool arguments are not valid",
            [{"field": k, "message": "Extra inputs are not permitted"} for k in unknown],
        )
    missing = [
        k for k in tool.input_schema.get("required", []) if k in known and k not in arguments
    ]
    if missing:
        raise ToolError(
            422,
            "VALIDATION_ERROR",
            "The tool arguments are not valid",
            [{"field": k, "message": "Field required"} for k in missing],
        )
    for key, value in arguments.items():
        param = known.get(key)
        if param is not None and param.location == "path":
            path[param.name] = value
        elif param is not None:
            if value is not None:
                query[param.name] = value
        elif key == "body" and not tool.flat_body:
            body = value
        else:
            body_fields[key] = value
    if tool.flat_body and (body_fields or tool.op.body_required):
        body = body_fields
    return path, query, body


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return value


async def invoke(
    http: httpx.AsyncClient,
    tool: Tool,
    arguments: dict[str, Any],
    headers: dict[str, str],
) -> dict[str, Any]:
    """Send the tool's request and return the envelope (without `success`), or raise ToolError."""
    from urllib.parse import quote

    path, query, body = split_arguments(tool, arguments)
    missing_path = [p.name for p in tool.op.params if p.location == "path" and p.name not in path]
    if missing_path:
        raise ToolError(
            422,
            "VALIDATION_ERROR",
            "The tool arguments are not valid",
            [{"field": n, "message": "Field required"} for n in missing_path],
        )
    url = tool.op.path.format(**{k: quote(str(v), safe="") for k, v in path.items()})
    params = {k: _query_value(v) for k, v in query.items()}
    kwargs: dict[str, Any] = {"params": params, "headers": headers}
    if body is not None:
        kwargs["json"] = body
    resp = await http.request(tool.op.method, url, **kwargs)
    if resp.status_code >= 400:
        try:
            err = resp.json()["error"]
        except (ValueError, KeyError, TypeError):
            raise ToolError(resp.status_code, "HTTP_ERROR", resp.text[:500]) from None
        raise ToolError(resp.status_code, err["code"], err["message"], err.get("details"))
    if resp.status_code == 204 or not resp.content:
        return {"data": None}
    payload = resp.json()
    if isinstance(payload, dict) and "data" in payload:
        return {k: v for k, v in payload.items() if k != "success" and v is not None}
    return {"data": payload}
