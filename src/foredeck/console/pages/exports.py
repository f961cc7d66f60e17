"""Export: a collection or filter to CSV, JSONL, Parquet or a Google Sheet, watched live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from foredeck.auth.schemas import Role
from foredeck.console.pages.operations import page_context, refused, started
from foredeck.console.web import ConsoleRoute, page, require
from foredeck.errors import ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime
from foredeck.operations import schemas as operations_schemas
from foredeck.operations import service as operations_service
from foredeck.records.schemas import EmbeddingState, MemoryType
from foredeck.settings import service as settings_service

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
    sheets = await settings_service.get_section(session, "sheets")
    return [s.name for s in sheets.sheets]


async def _context(
    request: Request, session: Any, values: dict[str, str] | None, errors: dict[str, str]
) -> dict[str, Any]:
    return await page_context(
        request,
        session,
        "export",
        values=values or _values({}),
        errors=errors,
        sheets=await _sheet_names(request, session),
        formats=FORMATS,
        types=[t.value for t in MemoryType],
        states=[s.value for s in EmbeddingState],
    )


@router.get("/ui/export")
async def export_page(request: Request, session: SessionDep) -> Response:
    """The export form, the last run, and the live progress of the current export."""
    return page(request, "export.html", "export", **await _context(request, session, None, {}))


@router.post("/ui/export")
async def start_export(request: Request, session: SessionDep) -> Response:
    """Check the form with the API's rules and start the export job."""
    principal = require(request, Role.operator)
    ops, schemas = operations_service, operations_schemas
    form = await request.form()
    values = _values(form)
    try:
        params = ops.parse(schemas.ExportParams, _params(values))
        job = await ops.start_export(
            session, get_runtime(request).config, params, created_by=principal.user_id
        )
    except ValidationFailed as exc:
        errors = {str(d.get("field") or "_form"): str(d.get("message")) for d in exc.details}
        if not errors:
            errors["_form"] = exc.message
        return refused(request, "export", await _context(request, session, values, errors))
    return await started(request, "export", job, lambda: _context(request, session, values, {}))
