"""Import: from an upload, a managed-directory file, a URL or a Google Sheet, watched live."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from foredeck.auth.schemas import Role
from foredeck.console.pages.operations import page_context, refused, started
from foredeck.console.web import ConsoleRoute, page, require
from foredeck.errors import AppError, ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime
from foredeck.operations import schemas as operations_schemas
from foredeck.operations import service as operations_service
from foredeck.operations.imports import preview as operations_preview
from foredeck.operations.sources import locations as operations_sources

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
SOURCES = ("upload", "file", "url", "sheet")
FORMATS = ("auto", "csv", "json", "jsonl", "parquet")
MODES = ("upsert", "append", "replace")
TEXT_FIELDS = ("path", "url", "sheet", "range", "collection", "encoding", "delimiter")
MAPPING_FIELDS = ("content", "external_id", "memory_type", "metadata")
PREVIEW_ROWS = 5


def _values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in TEXT_FIELDS}
    values["source"] = str(form.get("source") or "upload")
    values["format"] = str(form.get("format") or "auto")
    values["mode"] = str(form.get("mode") or "upsert")
    values["collection"] = values["collection"] or "default"
    for name in MAPPING_FIELDS:
        values[f"map_{name}"] = str(form.get(f"map_{name}") or "").strip()
    return values


def _params(values: dict[str, Any]) -> dict[str, Any]:
    """The API's ImportParams from the form (the service validates them)."""
    params: dict[str, Any] = {
        "source": "file" if values["source"] == "upload" else values["source"],
        "collection": values["collection"],
        "mode": values["mode"],
        "format": values["format"],
    }
    for name in ("path", "url", "sheet", "range", "encoding", "delimiter"):
        if values.get(name):
            params[name] = values[name]
    mapping: dict[str, Any] = {}
    for name in ("content", "external_id", "memory_type"):
        if values[f"map_{name}"]:
            mapping[name] = values[f"map_{name}"]
    meta = values["map_metadata"]
    if meta:
        mapping["metadata"] = "*" if meta == "*" else [m.strip() for m in meta.split(",") if m]
    if mapping:
        params["mapping"] = mapping
    return params


def _field_errors(exc: ValidationFailed) -> dict[str, str]:
    errors: dict[str, str] = {}
    for d in exc.details:
        field = str(d.get("field") or "_form")
        if field.startswith("params."):
            field = field[len("params.") :]
        if field.startswith("mapping."):
            field = "map_" + field.split(".")[1]
        if field in ("source", "body"):
            field = "_form"
        errors[field] = str(d.get("message"))
    if not errors:
        errors["_form"] = exc.message
    return errors


async def _managed_files(request: Request) -> list[str]:
    base: Path = operations_sources.imports_dir(get_runtime(request).config)

    def scan() -> list[str]:
        found = []
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base)
            if path.is_file() and not path.is_symlink() and rel.parts[0] != "uploads":
                found.append(str(rel))
        return found[:500]

    return await asyncio.to_thread(scan)


async def _context(
    request: Request, session: Any, values: dict[str, Any] | None, errors: dict[str, str]
) -> dict[str, Any]:
    return await page_context(
        request,
        session,
        "import",
        values=values or _values({}),
        errors=errors,
        files=await _managed_files(request),
        sources=SOURCES,
        formats=FORMATS,
        modes=MODES,
        max_bytes=get_runtime(request).config.max_upload_bytes,
        preview=None,
    )


@router.get("/ui/import")
async def import_page(request: Request, session: SessionDep) -> Response:
    """The import form, the last run, and the live progress of the current import."""
    return page(request, "import.html", "import", **await _context(request, session, None, {}))


@router.post("/ui/import")
async def start_import(request: Request, session: SessionDep) -> Response:
    """Check the form with the API's rules and start the import job."""
    principal = require(request, Role.operator)
    ops = operations_service
    form = await request.form()
    values = _values(form)
    config = get_runtime(request).config
    sources = operations_sources
    uploaded_path: str | None = None
    try:
        if values["source"] not in SOURCES:
            raise ValidationFailed.field("_form", "Choose where to import from")
        params = _params(values)
        if values["source"] == "upload":
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationFailed.field("file", "Choose a file to upload")
            ops.parse(_import_params_model(), {**params, "path": "placeholder"})
            uploaded_path = await sources.store_upload(config, upload)
            params.update(path=uploaded_path, delete_after=True, original_name=upload.filename)
        job = await ops.start_import(
            session,
            config,
            ops.parse(_import_params_model(), params),
            created_by=principal.user_id,
        )
    except AppError as exc:
        if uploaded_path is not None:
            sources.discard_upload(config, uploaded_path)
        if not isinstance(exc, ValidationFailed):
            raise
        errors = _field_errors(exc)
        return refused(request, "import", await _context(request, session, values, errors))
    return await started(request, "import", job, lambda: _context(request, session, values, {}))


def _import_params_model() -> Any:
    return operations_schemas.ImportParams


@router.post("/ui/import/preview")
async def preview(request: Request, session: SessionDep) -> Response:
    """The columns and first rows of a file through the mapping, to map columns from."""
    require(request, Role.operator)
    ops = operations_service
    sources = operations_sources
    previewer = operations_preview
    form = await request.form()
    values = _values(form)
    config = get_runtime(request).config
    errors: dict[str, str] = {}
    result: Any = None
    uploaded_path: str | None = None
    try:
        params = _params(values)
        if values["source"] == "upload":
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationFailed.field("file", "Choose a file to preview")
            uploaded_path = await sources.store_upload(config, upload)
            params["path"] = uploaded_path
        result = await previewer.preview(
            session, config, ops.parse(_import_params_model(), params), limit=PREVIEW_ROWS
        )
    except ValidationFailed as exc:
        errors = _field_errors(exc)
        if values["source"] == "upload" and "path" in errors:
            errors["file"] = errors.pop("path")
    finally:
        if uploaded_path is not None:
            sources.discard_upload(config, uploaded_path)
    context = await _context(request, session, values, errors)
    context["preview"] = result
    return page(request, "import.html", "import", block="import_preview", **context)
