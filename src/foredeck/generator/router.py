"""HTTP routes of the generator: schema extraction and validation, datasets, chunks, downloads."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse

from foredeck.auth.deps import Operator, Viewer
from foredeck.errors import ValidationFailed
from foredeck.generator import datasets
from foredeck.generator import service as gen_service
from foredeck.generator.schemas import (
    ChunkGenerateRequest,
    ChunkList,
    ChunkOut,
    ChunkPreview,
    DatasetCreate,
    DownloadInfo,
    DownloadRequest,
    ExtractRequest,
    ExtractResponse,
    ImportRequest,
    ValidationReport,
)
from foredeck.jobs.schemas import JobCreated, job_read
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, ok

router = APIRouter(prefix="/api/v1", tags=["generator"])
MAX_PREVIEW = 1000


@router.post("/schema/extract", response_model=Envelope[ExtractResponse])
async def extract_schema(
    body: ExtractRequest, _: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Turn a description into a dataset schema (LLM when configured, else offline rules)."""
    result = await gen_service.extract_schema(session, config, body)
    return ok(result.model_dump(mode="json", by_alias=True))


@router.post("/schema/validate", response_model=Envelope[ValidationReport])
async def validate_schema(
    _: Viewer,
    session: SessionDep,
    body: Annotated[dict[str, Any], Body(description="A dataset schema document")],
) -> Any:
    """Check a schema without generating anything: {valid, issues[]}, impossible ones too."""
    result = await gen_service.validate_schema(session, body)
    return ok(result.model_dump(mode="json", by_alias=True))


@router.post("/datasets", response_model=Envelope[JobCreated], status_code=202)
async def create_dataset(
    body: DatasetCreate, user: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Queue a `generate` job from a schema, or from a description extracted first."""
    if (body.dataset_schema is None) == (body.description is None):
        raise ValidationFailed.field("schema", "Send exactly one of schema or description")
    if body.dataset_schema is not None:
        schema = body.dataset_schema
        changes = {
            k: getattr(body, k) for k in ("rows", "format", "seed") if getattr(body, k) is not None
        }
        if changes:
            schema = schema.model_validate({**schema.model_dump(), **changes})
    else:
        assert body.description is not None
        extracted = await gen_service.extract_schema(
            session,
            config,
            ExtractRequest(
                description=body.description, rows=body.rows, format=body.format, seed=body.seed
            ),
        )
        schema = extracted.schema_
    job = await gen_service.create_generate_job(session, config, schema, created_by=user.user_id)
    read = job_read(job)
    return ok(JobCreated(job_id=read.id, status=read.status, job=read))


@router.get("/jobs/{job_id}/chunks", response_model=Envelope[ChunkList])
async def list_chunks(job_id: str, _: Viewer, session: SessionDep) -> Any:
    """Each chunk of a generation job: status, rows and checksum."""
    return ok(await gen_service.list_chunks(session, job_id))


@router.post("/jobs/{job_id}/chunks/{index}", response_model=Envelope[ChunkOut])
async def generate_chunk(
    job_id: str,
    index: int,
    _: Operator,
    session: SessionDep,
    config: ConfigDep,
    body: ChunkGenerateRequest | None = None,
) -> Any:
    """Generate or regenerate one chunk now (same seed, same rows), with optional overrides."""
    result = await gen_service.generate_chunk(
        session, config, job_id, index, body or ChunkGenerateRequest()
    )
    return ok(result)


@router.get(
    "/jobs/{job_id}/chunks/{index}",
    response_model=Envelope[ChunkPreview],
    responses={200: {"content": {"text/csv": {}}}},
)
async def preview_chunk(
    job_id: str,
    index: int,
    _: Viewer,
    session: SessionDep,
    config: ConfigDep,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=MAX_PREVIEW)] = 20,
) -> Any:
    """The first rows of a generated chunk, as JSON (enveloped) or CSV."""
    preview, csv = await gen_service.preview_chunk(session, config, job_id, index, limit)
    if format == "csv":
        return Response(csv, media_type="text/csv; charset=utf-8")
    return ok(preview)


@router.post(
    "/jobs/{job_id}/download",
    response_model=Envelope[DownloadInfo],
    responses={202: {"model": Envelope[DownloadInfo], "description": "Merging in the background"}},
)
async def prepare_download(
    job_id: str,
    user: Operator,
    session: SessionDep,
    config: ConfigDep,
    body: DownloadRequest | None = None,
) -> Any:
    """Merge the chunks into one file (JSON, JSONL, CSV or Parquet); big ones merge as a job."""
    body = body or DownloadRequest()
    info = await datasets.prepare_download(
        session, config, job_id, body.format, force=body.force_remerge, created_by=user.user_id
    )
    envelope = Envelope[DownloadInfo](data=info).model_dump(mode="json")
    return JSONResponse(envelope, status_code=200 if info.status == "ready" else 202)


@router.post("/jobs/{job_id}/import", response_model=Envelope[JobCreated], status_code=202)
async def import_dataset(
    job_id: str, body: ImportRequest, user: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Load a generated dataset into a collection (an `import` job with a column mapping)."""
    job = await datasets.import_into_records(session, config, job_id, body, created_by=user.user_id)
    read = job_read(job)
    return ok(JobCreated(job_id=read.id, status=read.status, job=read))
