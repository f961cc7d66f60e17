"""`/api/v1/operations`: import, export and index operations as jobs; status for polling."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from foredeck.auth.deps import Operator, Viewer
from foredeck.errors import ValidationFailed
from foredeck.jobs import service as jobs_service
from foredeck.kit import safejson
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, ok
from foredeck.operations import service as operations_service
from foredeck.operations.imports import preview
from foredeck.operations.imports.uploads import receive_upload
from foredeck.operations.schemas import (
    ExportParams,
    ImportParams,
    ImportPreview,
    JobRef,
    OperationStatus,
)
from foredeck.operations.sources import blobfiles
from foredeck.operations.sources.locations import discard_upload, imports_dir

router = APIRouter(tags=["operations"])

UPLOAD_FIELDS = (
    "collection",
    "mode",
    "format",
    "encoding",
    "delimiter",
    "max_error_ratio",
)
IMPORT_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": ImportParams.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mapping": {"type": "string", "description": "ColumnMapping as JSON"},
                        **{name: {"type": "string"} for name in UPLOAD_FIELDS},
                    },
                }
            },
        },
        "required": True,
    }
}


class ImportFile(BaseModel):
    path: str
    bytes: int
    modified_at: datetime


async def _json_body(request: Request) -> Any:
    # With the JSON limits: a body nested 100,000 deep or holding a 5,000-digit number
    # would otherwise escape as RecursionError / ValueError, a 500.
    try:
        return safejson.loads(await request.body())
    except safejson.JSONLimitError as exc:
        raise ValidationFailed.field("body", f"The JSON body is past a limit: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed.field("body", "Malformed JSON body") from exc


async def _save_upload(request: Request, config: Any) -> ImportParams:
    """Stream the uploaded file into the managed import dir; the params come from form fields."""
    form, relative = await receive_upload(request, config)
    try:
        fields: dict[str, Any] = {k: form[k] for k in UPLOAD_FIELDS if form.get(k)}
        if form.get("mapping"):
            try:
                fields["mapping"] = safejson.loads(form["mapping"])
            except ValueError as exc:
                raise ValidationFailed.field(
                    "mapping", f"mapping must be a JSON object ({safejson.parse_error(exc)})"
                ) from exc
        fields.update(
            source="file", path=relative, delete_after=True, original_name=Path(relative).name
        )
        params: ImportParams = operations_service.parse(ImportParams, fields)
    except BaseException:
        discard_upload(config, relative)
        raise
    return params


@router.post(
    "/api/v1/operations/import",
    response_model=Envelope[JobRef],
    status_code=202,
    openapi_extra=IMPORT_BODY_DOC,
)
async def start_import(
    request: Request, principal: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Import from an upload (multipart), a file in the import dir, a URL or a Google Sheet."""
    content_type = request.headers.get("content-type", "")
    uploaded = content_type.startswith("multipart/form-data")
    if uploaded:
        params = await _save_upload(request, config)
    else:
        params = operations_service.parse(ImportParams, await _json_body(request))
        # Only the server marks a file for removal (its own uploads).
        params = params.model_copy(update={"delete_after": False})
    try:
        job = await operations_service.start_import(
            session, config, params, created_by=principal.user_id
        )
        if uploaded and params.path:
            # Before the job commits: a store that refuses it leaves no job behind.
            await blobfiles.publish_upload(config, params.path)
    except BaseException:
        if uploaded and params.path:
            discard_upload(config, params.path)
            await blobfiles.discard_remote_upload(config, params.path)
        raise
    return ok(operations_service.job_ref(job))


@router.post("/api/v1/operations/import/preview", response_model=Envelope[ImportPreview])
async def preview_import(
    body: ImportParams, _: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """The columns, the mapping as it will apply, and the first rows of a file or a sheet."""
    return ok(await preview.preview(session, config, body))


@router.post("/api/v1/operations/export", response_model=Envelope[JobRef], status_code=202)
async def start_export(
    body: ExportParams, principal: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Export a collection or a filter to CSV, JSONL, Parquet or a Google Sheet."""
    job = await operations_service.start_export(session, config, body, created_by=principal.user_id)
    return ok(operations_service.job_ref(job))


@router.post("/api/v1/operations/index", response_model=Envelope[JobRef], status_code=202)
async def start_index_rebuild(principal: Operator, session: SessionDep) -> Any:
    """Rebuild the vector index (the same job as the index domain's rebuild)."""
    job = await jobs_service.create_job(
        session, kind="index_rebuild", params={}, created_by=principal.user_id
    )
    return ok(operations_service.job_ref(job))


@router.get("/api/v1/operations/{operation}/status", response_model=Envelope[OperationStatus])
async def operation_status(
    operation: Literal["import", "export", "index"], _: Viewer, session: SessionDep
) -> Any:
    """Latest job of the operation, whether its lock is held and by whom, and the last run."""
    return ok(await operations_service.operation_status(session, operation))


@router.get("/api/v1/operations/import/files", response_model=Envelope[list[ImportFile]])
async def list_import_files(_: Viewer, config: ConfigDep) -> Any:
    """Files in the managed import directory that an import can name by path."""
    base = imports_dir(config)

    def scan() -> list[ImportFile]:
        out = []
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base)
            if path.is_file() and not path.is_symlink() and rel.parts[0] != "uploads":
                info = path.stat()
                out.append(
                    ImportFile(
                        path=str(rel),
                        bytes=info.st_size,
                        modified_at=datetime.fromtimestamp(info.st_mtime, UTC),
                    )
                )
        return out[:1000]

    return ok(await asyncio.to_thread(scan))
