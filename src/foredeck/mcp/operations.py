"""The API's operations, read from the app's own route table and OpenAPI document.

One list feeds the MCP tools and the generated Python client, so both follow the REST API as
other domains add endpoints: an operation's name is its route's function name unless
SEED_NAMES gives the name seed 003 (or the verb_noun style) asks for.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts

# (method, path) -> tool and client method name, where the route's function name differs
# from the name the seeds use.
SEED_NAMES: dict[tuple[str, str], str] = {
    # seed 003
    ("POST", "/api/v1/schema/extract"): "extract_schema",
    ("POST", "/api/v1/schema/validate"): "validate_schema",
    ("POST", "/api/v1/jobs"): "create_job",
    ("GET", "/api/v1/jobs"): "list_jobs",
    ("GET", "/api/v1/jobs/{job_id}"): "get_job",
    ("POST", "/api/v1/jobs/{job_id}/control"): "control_job",
    ("POST", "/api/v1/jobs/{job_id}/chunks/{index}"): "generate_chunk",
    ("GET", "/api/v1/jobs/{job_id}/chunks/{index}"): "get_chunk",
    ("POST", "/api/v1/jobs/{job_id}/download"): "prepare_download",
    ("GET", "/api/v1/jobs/{job_id}/download"): "download_dataset",
    # seed 000 and the verb_noun style elsewhere
    ("POST", "/api/v1/operations/import"): "start_import",
    ("POST", "/api/v1/operations/export"): "start_export",
    ("POST", "/api/v1/operations/index"): "rebuild_index",
    ("GET", "/api/v1/operations/{operation}/status"): "get_operation_status",
    ("POST", "/api/v1/search"): "search",
    ("GET", "/api/v1/search"): "search_records",
    ("GET", "/api/v1/workers"): "list_workers",
    ("GET", "/api/v1/workers/controls"): "get_worker_controls",
    ("POST", "/api/v1/workers/pause-all"): "pause_all_workers",
    ("POST", "/api/v1/workers/resume-all"): "resume_all_workers",
    ("POST", "/api/v1/workers/drain"): "drain_workers",
    ("POST", "/api/v1/workers/undrain"): "undrain_workers",
    ("POST", "/api/v1/workers/{worker_id}/pause"): "pause_worker",
    ("POST", "/api/v1/workers/{worker_id}/resume"): "resume_worker",
    ("GET", "/api/v1/telemetry/snapshot"): "get_telemetry_snapshot",
    ("GET", "/api/v1/telemetry/history"): "get_telemetry_history",
    ("GET", "/api/v1/telemetry/stream"): "stream_telemetry",
    ("GET", "/api/v1/jobs/{job_id}/events"): "stream_job_events",
    ("GET", "/api/v1/settings"): "get_settings",
    ("PUT", "/api/v1/settings"): "update_settings",
    ("PATCH", "/api/v1/settings"): "update_settings",
    ("GET", "/api/v1/settings/{section}"): "get_settings_section",
    ("PUT", "/api/v1/settings/{section}"): "update_settings",
    ("DELETE", "/api/v1/settings/{section}"): "reset_settings_section",
    ("POST", "/api/v1/settings/{section}/validate"): "validate_settings_section",
    ("POST", "/api/v1/settings/import-config"): "import_settings_config",
    ("POST", "/api/v1/jobs/test"): "create_test_job",
    ("GET", "/api/v1/jobs/kinds"): "list_job_kinds",
    ("POST", "/api/v1/jobs/bulk"): "control_jobs",
    ("DELETE", "/api/v1/jobs/{job_id}"): "delete_job",
    ("GET", "/api/v1/jobs/{job_id}/runs"): "list_job_runs",
    ("GET", "/api/v1/jobs/{job_id}/events/history"): "list_job_events",
    ("GET", "/api/v1/queue"): "get_queue_summary",
    ("DELETE", "/api/v1/locks/{name}"): "free_lock",
    ("GET", "/api/v1/available_models"): "list_available_models",
    ("GET", "/api/v1/embedding"): "get_embedding_status",
    ("POST", "/api/v1/embedding/retry"): "retry_failed_embeddings",
    ("GET", "/api/v1/index"): "get_index_stats",
    ("GET", "/api/v1/index/snapshot"): "download_index_snapshot",
    ("POST", "/api/v1/index/snapshot"): "restore_index_snapshot",
    ("GET", "/api/v1/rag"): "list_rag_indices",
    ("GET", "/api/v1/users/me"): "get_me",
    ("GET", "/api/v1/users/me/preferences"): "get_preferences",
    ("GET", "/api/v1/info"): "get_info",
    ("GET", "/health"): "get_health",
    ("GET", "/health/live"): "get_liveness",
    ("GET", "/health/ready"): "get_readiness",
    ("GET", "/metrics"): "get_metrics",
}


@dataclass
class Param:
    name: str  # on the wire
    ident: str  # as a Python argument / tool property
    location: str  # path or query
    required: bool
    schema: dict[str, Any]
    description: str | None = None


@dataclass
class Operation:
    name: str
    method: str
    path: str
    summary: str
    description: str
    tags: list[str]
    params: list[Param]
    body_schema: dict[str, Any] | None
    body_required: bool
    body_media: str | None  # application/json, multipart/form-data, ...
    body_type: Any
    response_model: Any
    status_code: int | None
    response_kind: str  # json (an envelope or plain JSON), empty (204) or raw (files, streams)
    stream: bool
    openapi: dict[str, Any] = field(repr=False)


def python_ident(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    if ident[:1].isdigit() or keyword.iskeyword(ident) or ident in ("self", "body"):
        ident += "_"
    return ident


def _response_kind(rc: Any, op: dict[str, Any], status: int | None) -> tuple[str, bool]:
    """json (an envelope or plain JSON), empty (204) or raw (files, streams); and is it SSE."""
    contents = {
        media
        for code, resp in op.get("responses", {}).items()
        if str(code).startswith("2")
        for media in resp.get("content", {})
    }
    response_class = getattr(rc.response_class, "value", rc.response_class)
    media_type = getattr(response_class, "media_type", None)
    stream = (
        "text/event-stream" in contents
        or media_type == "text/event-stream"
        or "EventSource" in getattr(response_class, "__name__", "")
    )
    if status == 204:
        return "empty", stream
    is_json = isinstance(response_class, type) and issubclass(response_class, JSONResponse)
    if stream or not is_json:
        return "raw", stream
    return "json", stream


def collect(app: FastAPI) -> list[Operation]:
    """Every operation in the app's OpenAPI document, in route order."""
    spec = app.openapi()
    ops: list[Operation] = []
    taken: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        if not isinstance(route, APIRoute) or not rc.include_in_schema:
            continue
        path: str = rc.path or route.path
        for method in sorted(rc.methods or ()):
            op = spec["paths"].get(path, {}).get(method.lower())
            if op is None or (method, path) in seen:
                # A second route on the same method and path is never reached.
                continue
            seen.add((method, path))
            name: str = SEED_NAMES.get((method, path)) or rc.name or route.name
            if name in taken:
                name = f"{name}_{method.lower()}"
            taken.add(name)
            params = [
                Param(
                    name=p["name"],
                    ident=python_ident(p["name"]),
                    location=p["in"],
                    required=bool(p.get("required")),
                    schema=p.get("schema", {}),
                    description=p.get("description"),
                )
                for p in op.get("parameters", [])
                if p["in"] in ("path", "query")
            ]
            body = op.get("requestBody")
            media = next(iter(body["content"]), None) if body else None
            status = rc.status_code
            kind, stream = _response_kind(rc, op, status)
            ops.append(
                Operation(
                    name=name,
                    method=method,
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", "") or op.get("summary", ""),
                    tags=list(op.get("tags", [])),
                    params=params,
                    body_schema=body["content"][media].get("schema") if body and media else None,
                    body_required=bool(body and body.get("required")),
                    body_media=media,
                    body_type=route.body_field.field_info.annotation if route.body_field else None,
                    response_model=rc.response_model,
                    status_code=status,
                    response_kind=kind,
                    stream=stream,
                    openapi=op,
                )
            )
    return ops
