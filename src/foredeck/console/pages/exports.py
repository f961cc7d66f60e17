"""Export: a collection or filter to CSV, JSONL, Parquet or a Google Sheet, watched live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from foredeck.auth.schemas import Role
from foredeck.console.backends import service
from foredeck.console.pages.operations import operation_context, settings_banners
from foredeck.console.web import (
    ConsoleRoute,
    base_context,
    is_htmx,
    publish_after,
    render,
    require,
    toast_headers,
    trigger_headers,
)
from foredeck.errors import NotFound, ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.records.schemas import EmbeddingState, MemoryType

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FORMATS = ("jsonl", "csv", "parquet", "sheet")
FIELDS = (
    "format",
    "collection",
    "memory_type",
    "embedding_state",
    "created_after",
    "created_before",
    "q",
    "sheet",
    "range",
)


def _values(form: Any) -> dict[str, str]:
    values = {k: str(form.get(k) or "").strip() for k in FIELDS}
    values["format"] = values["format"] or "jsonl"
    return values


def _params(values: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v}


async def _sheet_names(request: Request, session: Any) -> list[str]:
    settings = service("settings")
    if settings is None:
        return []
    sheets = await settings.get_section(session, "sheets")
    return [s.name for s in sheets.sheets]


async def _context(
    request: Request, session: Any, values: dict[str, str] | None, errors: dict[str, str]
) -> dict[str, Any]:
    context = base_context(request, "export")
    context.update(await operation_context(request, session, "export"))
    context.update(
        title="Export",
        topics="jobs,workers,operations,settings",
        banners=await settings_banners(request, session),
        sheets=await _sheet_names(request, session),
        v=values or _values({}),
        errors=errors,
        formats=FORMATS,
        types=[t.value for t in MemoryType],
        states=[s.value for s in EmbeddingState],
    )
    return context


@router.get("/ui/export")
async def export_page(request: Request, session: SessionDep) -> Response:
    """The export form, the last run, and the live progress of the current export."""
    return render(request, "export.html", await _context(request, session, None, {}))


@router.post("/ui/export")
async def start_export(request: Request, session: SessionDep) -> Response:
    """Check the form with the API's rules and start the export job."""
    principal = require(request, Role.operator)
    ops = service("operations")
    schemas = service("operations", "schemas")
    if ops is None or schemas is None:
        raise NotFound("Export is not available in this build")
    form = await request.form()
    values = _values(form)
    try:
        params = ops.parse(schemas.ExportParams, _params(values))
        job = await ops.start_export(
            session, request.app.state.config, params, created_by=principal.user_id
        )
    except ValidationFailed as exc:
        errors = {str(d.get("field") or "_form"): str(d.get("message")) for d in exc.details}
        if not errors:
            errors["_form"] = exc.message
        context = await _context(request, session, values, errors)
        headers = toast_headers("The export was not started: see the form", "error")
        block = "export_form" if is_htmx(request) else None
        return render(request, "export.html", context, block=block, status=422, headers=headers)
    if not is_htmx(request):
        return RedirectResponse(f"/ui/export?job={job.id}", status_code=303)
    context = await _context(request, session, values, {})
    headers = trigger_headers(
        f"Export started (job {job.id[:8]})", {"fd:export-started": {"job": job.id}}
    )
    response = render(request, "export.html", context, block="export_form", headers=headers)
    return publish_after(response, request, "operations", {"kind": "export", "job_id": job.id})
