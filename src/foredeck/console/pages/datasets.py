"""Datasets: describe → schema (editable, validated) → generate → preview → download / import."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from foredeck.auth.schemas import Role
from foredeck.console.pages import schema_form
from foredeck.console.pages.schema_form import FormState
from foredeck.console.web import (
    ConsoleRoute,
    done,
    is_htmx,
    page,
    publish_after,
    require,
    toast_headers,
)
from foredeck.errors import ValidationFailed, pydantic_details
from foredeck.generator import datasets as generator_datasets
from foredeck.generator import schemas as generator_schemas
from foredeck.generator import service as generator_service
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FORMATS = ("parquet", "csv", "jsonl", "json")
PREVIEW_ROWS = 20


def _gen() -> tuple[Any, Any, Any]:
    return generator_service, generator_datasets, generator_schemas


def _pydantic_errors(exc: ValidationError) -> list[dict[str, str]]:
    return pydantic_details(exc, empty="_form")


async def _context(request: Request, session: Any, **values: Any) -> dict[str, Any]:
    """The describe-and-edit page's data, with the schema form's parts when there is one."""
    state: FormState | None = values.get("schema")
    context: dict[str, Any] = dict(
        title="Datasets",
        topics="jobs",
        recent=await generator_service.recent_generations(session, limit=10),
        formats=FORMATS,
        description=values.get("description", ""),
        rows=values.get("rows", ""),
        errors=values.get("errors", {}),
        extracted=values.get("extracted"),
        valid=values.get("valid"),
        schema=state,
        focus=values.get("focus"),
    )
    if state is not None:
        schema_json = values.get("schema_json")
        if schema_json is None:
            schema_json = json.dumps(schema_form.document(state), indent=2)
        context.update(
            schema_json=schema_json,
            top_inputs=schema_form.top_inputs(),
            column_inputs=schema_form.column_inputs(),
            name_input=schema_form.NAME_INPUT,
            types=schema_form.field_types(),
            shown=schema_form.shown,
        )
    return context


def _work(
    request: Request, context: dict[str, Any], status: int = 200, headers: Any = None
) -> Response:
    """The describe-and-edit part of the page (the whole page without htmx)."""
    block = "dataset_work" if is_htmx(request) else None
    return page(
        request,
        "datasets.html",
        "datasets",
        block=block,
        status_code=status,
        headers=headers,
        **context,
    )


@router.get("/ui/datasets")
async def datasets_page(request: Request, session: SessionDep) -> Response:
    """Describe a dataset in words, or pick up a recent generation."""
    return page(request, "datasets.html", "datasets", **await _context(request, session))


@router.post("/ui/datasets/extract")
async def extract(request: Request, session: SessionDep) -> Response:
    """Turn the description into a schema form with the validation issues next to the fields."""
    require(request, Role.operator)
    gen, _datasets, schemas = _gen()
    form = await request.form()
    description = str(form.get("description") or "").strip()
    rows = str(form.get("rows") or "").strip()
    body: dict[str, Any] = {"description": description}
    if rows:
        body["rows"] = rows
    values: dict[str, Any] = {"description": description, "rows": rows}
    status = 200
    try:
        request_model = schemas.ExtractRequest.model_validate(body)
        result = await gen.extract_schema(session, get_runtime(request).config, request_model)
        state = schema_form.from_document(result.schema_.model_dump(mode="json", by_alias=True))
        schema_form.place_notes(state, [n.model_dump() for n in result.notes])
        issues = [i.model_dump() for i in result.validation.issues]
        values.update(
            schema=schema_form.place_issues(state, issues),
            extracted=result.extractor,
            valid=result.validation.valid,
        )
        unread = sum(1 for n in result.notes if n.level == "warning")
        message = f"Schema extracted ({result.extractor})"
        if unread:
            message += f"; {unread} note{'s' if unread > 1 else ''} to check"
        headers = toast_headers(message)
    except ValidationError as exc:
        values["errors"] = {e["field"]: e["message"] for e in _pydantic_errors(exc)}
        status, headers = 422, toast_headers("The description is not valid", "error")
    except ValidationFailed as exc:
        values["errors"] = {str(d.get("field") or "description"): d["message"] for d in exc.details}
        values["errors"].setdefault("description", exc.message)
        status, headers = 422, toast_headers(exc.message, "error")
    return _work(request, await _context(request, session, **values), status, headers)


def _edit(state: FormState, intent: str) -> str | None:
    """Add or remove a column in place; returns the id of the input to focus, if any."""
    if intent == "add" and len(state.columns) < schema_form.MAX_COLUMNS:
        state.columns.append(schema_form.blank_column())
        return f"ds-col-{len(state.columns) - 1}-name"
    index = intent.removeprefix("remove-")
    if index.isdigit() and int(index) < len(state.columns):
        del state.columns[int(index)]
    return None


@router.post("/ui/datasets/schema")
async def schema_action(request: Request, session: SessionDep) -> Response:
    """Edit the schema form (add, remove, retype, load JSON), validate it, or generate from it."""
    principal = require(request, Role.operator)
    gen, _datasets, _schemas = _gen()
    form = await request.form()
    intent = str(form.get("intent") or "validate")
    state = schema_form.from_form(form)
    values: dict[str, Any] = {"description": str(form.get("description") or ""), "schema": state}
    if intent == "add" or intent.startswith("remove-") or intent == "retype":
        values["focus"] = _edit(state, intent)
        return _work(request, await _context(request, session, **values))
    if intent == "json":
        text = str(form.get("schema_json") or "")
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("the schema must be a JSON object")
        except ValueError as exc:
            message = (
                f"Not valid JSON: {exc.msg} (line {exc.lineno})"
                if isinstance(exc, json.JSONDecodeError)
                else f"Not a schema: {exc}"
            )
            values.update(errors={"schema": message}, schema_json=text)
            headers = toast_headers("The JSON could not be loaded", "error")
            return _work(request, await _context(request, session, **values), 422, headers)
        state = values["schema"] = schema_form.from_document(data)
    report = await gen.validate_schema(session, schema_form.document(state))
    schema_form.place_issues(state, [i.model_dump() for i in report.issues])
    values["valid"] = report.valid
    if intent == "generate" and report.valid and report.schema_ is not None:
        try:
            job = await gen.create_generate_job(
                session, get_runtime(request).config, report.schema_, created_by=principal.user_id
            )
        except ValidationFailed as exc:
            notes = [
                {"field": d.get("field"), "message": d["message"], "severity": "error"}
                for d in exc.details
            ] or [{"field": None, "message": exc.message, "severity": "error"}]
            schema_form.place_issues(state, notes)
            values["valid"] = False
            headers = toast_headers(exc.message, "error")
            return _work(request, await _context(request, session, **values), 422, headers)
        target = f"/ui/datasets/{job.id}"
        if is_htmx(request):
            response: Response = Response(
                status_code=204,
                headers={"HX-Redirect": target, **toast_headers("Generation started")},
            )
        else:
            response = RedirectResponse(target, status_code=303)
        return publish_after(response, request, "jobs", {"kind": "generate", "job_id": job.id})
    status = 200 if report.valid else 422
    message = "The schema is valid" if report.valid else "The schema has problems: see the fields"
    headers = toast_headers(message, "success" if report.valid else "error")
    return _work(request, await _context(request, session, **values), status, headers)


async def _dataset_context(request: Request, session: Any, job_id: str) -> dict[str, Any]:
    gen, datasets, schemas = _gen()
    job, schema = await gen.generate_job(session, job_id)
    await session.refresh(job)
    chunks = await gen.list_chunks(session, job_id)
    downloads = {}
    for fmt in FORMATS:
        row = await datasets.download_row(session, job_id, schemas.OutputFormat(fmt))
        downloads[fmt] = datasets.download_info(job_id, row) if row is not None else None
    finished = sum(1 for c in chunks.chunks if c.status == "done")
    return dict(
        title=f"Dataset {job_id[:8]}",
        topics=f"jobs,job:{job_id}",
        job=job,
        schema=schema,
        chunks=chunks,
        finished=finished,
        downloads=downloads,
        formats=FORMATS,
        columns=[f.name for f in schema.fields],
    )


@router.get("/ui/datasets/{job_id}")
async def dataset_page(request: Request, session: SessionDep, job_id: str) -> Response:
    """A generation: chunk progress, previews, downloads and import into a collection."""
    context = await _dataset_context(request, session, job_id)
    return page(request, "dataset.html", "datasets", **context)


@router.get("/ui/datasets/{job_id}/chunks/{index}")
async def chunk_preview(request: Request, session: SessionDep, job_id: str, index: int) -> Response:
    """The first rows of one generated chunk."""
    gen, _datasets, _schemas = _gen()
    preview, _csv = await gen.preview_chunk(
        session, get_runtime(request).config, job_id, index, PREVIEW_ROWS
    )
    return page(
        request, "chunk.html", "datasets", title=f"Chunk {index}", job_id=job_id, preview=preview
    )


@router.post("/ui/datasets/{job_id}/download")
async def prepare_download(request: Request, session: SessionDep, job_id: str) -> Response:
    """Merge the chunks into one file of a format (big ones merge as a job)."""
    principal = require(request, Role.operator)
    _gen_service, datasets, schemas = _gen()
    form = await request.form()
    fmt = str(form.get("format") or "")
    if fmt not in FORMATS:
        raise ValidationFailed.field("format", f"Choose one of {', '.join(FORMATS)}")
    info = await datasets.prepare_download(
        session,
        get_runtime(request).config,
        job_id,
        schemas.OutputFormat(fmt),
        force=False,
        created_by=principal.user_id,
    )
    message = f"{fmt} file ready" if info.status == "ready" else f"Merging the {fmt} file in a job"
    response = done(request, message, back=f"/ui/datasets/{job_id}", **{"fd:dataset-changed": True})
    return publish_after(response, request, f"job:{job_id}", {"kind": "download", "format": fmt})


@router.post("/ui/datasets/{job_id}/import")
async def import_dataset(request: Request, session: SessionDep, job_id: str) -> Response:
    """Load the generated rows into a collection through the import operation."""
    principal = require(request, Role.operator)
    _gen_service, datasets, schemas = _gen()
    form = await request.form()
    mapping: dict[str, Any] = {"content": str(form.get("content") or "")}
    if form.get("external_id"):
        mapping["external_id"] = str(form.get("external_id"))
    body = {
        "collection": str(form.get("collection") or ""),
        "mode": str(form.get("mode") or "upsert"),
        "mapping": mapping,
    }
    try:
        request_model = schemas.ImportRequest.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed("The import is not valid", details=_pydantic_errors(exc)) from exc
    job = await datasets.import_into_records(
        session, get_runtime(request).config, job_id, request_model, created_by=principal.user_id
    )
    if is_htmx(request):
        return Response(
            status_code=204,
            headers={"HX-Redirect": f"/ui/import?job={job.id}", **toast_headers("Import started")},
        )
    return RedirectResponse(f"/ui/import?job={job.id}", status_code=303)
